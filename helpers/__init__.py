"""The tested plumbing behind the notebook series; each module holds one concern.

- runtime: device choice (CUDA, MPS, CPU), seeding, mixed precision, DataLoader settings
- data: real MNIST from three sources (offline sample, torchvision, Kaggle CSV) split train /
  validation / test, network input, the provenance a checkpoint records (02, 05)
- mnist_cache: where the shipped sample and the torchvision download live, checksums, cache safety
- files: atomic writes, stale temporaries of killed writers, sha256, deterministic gzip
- modalities: seven modalities as tensors made offline, toy encoders into one space (01)
- pairs: positive and negative pairs, batches, augmented views (02)
- model: the embedding network (03)
- losses: cosine MSE, margin contrastive, InfoNCE supervised and self-supervised (03, 04),
  cross-modal symmetric InfoNCE (06)
- training: TrainConfig and fit (04)
- checkpoints: save, load and rebuild models, check evaluation digits were held out (04, 05)
- evaluation: embeddings in eval mode, k-NN, recall@k, ROC AUC, silhouette (04, 05)
- projection: UMAP and PCA views of an embedding space (05)
- encoders: text and keypad-tone items made offline, their encoders (06)
- binding: cross-modal recall, modality gap and centring (06)
- vectordb: one LanceDB table for all modalities, exact search, any-to-any display (06)
- plots: figures for every notebook, plotly renderer choice and static fallbacks
- colab: where Colab installs this package from
"""

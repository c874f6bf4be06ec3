"""The tested plumbing behind the notebook series; each module holds one concern.

- runtime: device choice (CUDA, MPS, CPU), seeding, mixed precision, torch.compile fallback
- data: real MNIST from three sources (offline sample, torchvision, Kaggle CSV), network input
- modalities: seven modalities as tensors made offline, toy encoders into one space (01)
- pairs: positive and negative pairs, in-batch batches, augmented views (02, 03, 04)
- model: the embedding network (03)
- losses: the batch kinds; cosine MSE (pairs and in-batch), margin contrastive, InfoNCE
  supervised and self-supervised (03, 04), cross-modal symmetric InfoNCE (06)
- training: TrainConfig, train_step, train_epoch and fit (04)
- bookkeeping: what fit keeps track of: time budget, best weights, checkpoint files, progress (04)
- checkpoints: save, load and rebuild models (04, 05)
- evaluation: embeddings in eval mode, k-NN, recall@k, ROC AUC, silhouette (04, 05)
- projection: UMAP and PCA views of an embedding space (05)
- encoders: text and keypad-tone items made offline, their encoders (06)
- binding: cross-modal recall, modality gap and centring (06)
- vectordb: one LanceDB table for all modalities, exact search, any-to-any display (06)
- plots: figures for every notebook, plotly renderer choice and static fallbacks
- colab: where Colab installs this package from
"""

"""The tested plumbing behind the notebook series; each module holds one concern.

Reading order for a newcomer follows the notebooks: data -> pairs -> model -> losses -> training
-> evaluation (02 -> 03 -> 04 -> 05). Each module's docstring names the notebook that teaches it.

- runtime: device choice (CUDA, MPS, CPU), seeding, mixed precision, torch.compile fallback
- data: real MNIST from three sources (offline sample, torchvision, Kaggle CSV) split train /
  validation / test, network input, the provenance a checkpoint records (02, 05)
- mnist_cache: where the shipped sample and the torchvision download live, checksums, cache safety
- files: atomic writes, stale temporaries of killed writers, sha256, deterministic gzip
- modalities/: seven modalities as tensors made offline (text, audio, scenes, imu), hand-built
  concept encoders and the 2-D toy (01, 06)
- pairs: positive and negative pairs, in-batch batches, augmented views (02, 03, 04)
- model: the embedding network (03), toy, text and audio encoders (01, 06)
- losses: the batch kinds; cosine MSE (pairs and in-batch), margin contrastive, InfoNCE
  supervised and self-supervised (03, 04), cross-modal symmetric InfoNCE (06)
- training: TrainConfig, train_step, train_epoch and fit (04)
- bookkeeping: what fit keeps track of: time budget, best weights, checkpoint files, progress (04)
- source_pipeline: the source chapter's pipeline, rebuilt so that its choices can be removed one
  at a time (04's waterfall; bench times it)
- checkpoints: save, load and rebuild models, check evaluation digits were held out (04, 05)
- evaluation: embeddings in eval mode, k-NN, recall@k, ROC AUC, silhouette (04, 05)
- intervals: 95% intervals of an accuracy (Wilson) and of a mean over seeds (Student's t) (04, 05)
- projection: UMAP and PCA views of an embedding space (05)
- binding: cross-modal recall, modality gap and centring (06)
- vectordb: one LanceDB table for all modalities, exact and fused search (06)
- plots/: figures for every notebook in one visual language, plotly renderer choice (all)
- exercises/: the checks behind every notebook's exercises (all)
- colab: where Colab installs this package from
"""

"""Quick start: NN-2 on Fashion-MNIST, SGD vs AdaDecay, a few trials.

Trains in a few minutes on 2 CPU cores; every field below is what all
experiment configs have (the others import this and change some):

  python -m train --config configs/quickstart.py --workdir workdirs/quickstart
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.experiment = 'quickstart'
  # Runs: the product models × datasets × dropout_rates × optimizers.
  config.models = ('nn2',)  # train.models.MODELS
  config.datasets = ('fashion_mnist',)  # mnist, fashion_mnist, cifar10, ...
  # train.optimizers: sgd, adadecay, randomized, rmsprop, adam, entropy_sgd,
  # accelerated_sgd; 'name(alpha=8, weight_decay=1e-3, learning_rate=0.05)'.
  config.optimizers = ('sgd', 'adadecay')
  config.dropout_rates = (0.0,)  # P of the 28x28 models (paper Fig. 2)
  # Protocol (paper: 50 trials of 100 epochs, batch 128).
  config.trials = 6
  config.epochs = 10
  config.batch_size = 128
  config.eval_batch_size = 1000  # memory only; results do not depend on it
  config.seed = 0  # trial i uses seed + i, the same for every optimizer
  # Split over jobs: 'i/n' trains runs i, i + n, ... of the list above (in
  # its own workdir); `python -m train.report` of the n workdirs merges them.
  config.shard = ''
  # Data: '' searches $ADADECAY_DATA_DIR, /usr/share/datasets, TFDS and the
  # download cache (see README); download=True then fetches the original
  # files (verified) when none of those has them.
  config.data_dir = ''
  config.download = True
  config.train_subset = 0  # >0: the first N training images only (tests)
  config.test_subset = 0
  # Pad-4 random crop + horizontal flip per trial on the device (CIFAR-10).
  config.augment = False
  # True: the model computes in bfloat16 (flax's imagenet example's name);
  # parameters, optimizer state, AdaDecay's statistics and the loss stay
  # float32. The paper trained in float32.
  config.half_precision = False
  # Logging: TensorBoard event files in <workdir>/tensorboard (loss,
  # accuracy, learning rate, θ statistics); θ diagnostics of AdaDecay runs
  # every this many epochs (0: off) in <workdir>/runs/<run>/.
  config.tensorboard = False
  config.theta_every = 0
  config.progress = True
  # Epochs between checkpoints (the last epoch is always saved); an
  # interrupted run redoes at most this many - 1 epochs. Raise it where a
  # checkpoint costs much next to an epoch (a fast GPU).
  config.checkpoint_every = 1
  return config

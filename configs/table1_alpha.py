"""Table I: AdaDecay's α ∈ {-1, 1, 2, 4, 8} against constant decay (SGD).

50 trials of 100 epochs, as the paper. The paper's Table I reports the
shallow models; NN-2 and LeNet-4 on both 28x28 datasets are the default
here (override ``--config.models``).
"""

from configs import quickstart

ALPHAS = (-1, 1, 2, 4, 8)


def get_config():
  config = quickstart.get_config()
  config.experiment = 'table1_alpha'
  config.models = ('nn2', 'lenet4')
  config.datasets = ('mnist', 'fashion_mnist')
  config.optimizers = ('sgd',) + tuple(f'adadecay(alpha={a})' for a in ALPHAS)
  config.trials = 50
  config.epochs = 100
  return config

"""Table III, shallow part: NN-2, NN-3, LeNet-4, VGG-9 on MNIST and
Fashion-MNIST, with SGD, RMSprop, Adam, Entropy-SGD, Accelerated SGD and
AdaDecay; 50 trials of 100 epochs.
"""

from configs import quickstart


def get_config():
  config = quickstart.get_config()
  config.experiment = 'table3_shallow'
  config.models = ('nn2', 'nn3', 'lenet4', 'vgg9')
  config.datasets = ('mnist', 'fashion_mnist')
  config.optimizers = ('sgd', 'rmsprop', 'adam', 'entropy_sgd', 'accelerated_sgd', 'adadecay')
  config.trials = 50
  config.epochs = 100
  return config

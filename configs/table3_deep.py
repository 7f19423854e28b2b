"""Table III, deep part: ResNet-18, ResNet-50, GoogLeNet and DenseNet-121
(the paper's "DenseConv", see train/models/densenet.py) on CIFAR-10 with SGD,
RMSprop, Adam, Entropy-SGD, Accelerated SGD and AdaDecay; 32 trials of 100
epochs, with the standard augmentation (pad 4 + random crop, horizontal flip).

``dataset='cifar10'`` needs TFDS or the original binary distribution;
``--config.datasets="('cifar10_jpeg',)"`` uses the lossy offline JPEG copy
(the results then say so). On one CPU this is not feasible (see README).
"""

from configs import quickstart


def get_config():
  config = quickstart.get_config()
  config.experiment = 'table3_deep'
  config.models = ('resnet18', 'resnet50', 'googlenet', 'densenet121')
  config.datasets = ('cifar10',)
  config.optimizers = ('sgd', 'rmsprop', 'adam', 'entropy_sgd', 'accelerated_sgd', 'adadecay')
  config.trials = 32
  config.epochs = 100
  config.augment = True
  return config

"""The models. torch.distributions checks its arguments' values on the host at every
construction (a device wait each, dozens per training step); here non-finite values are
caught by the training loop's guards instead, so argument validation is off."""
from torch.distributions import Distribution

Distribution.set_default_validate_args(False)

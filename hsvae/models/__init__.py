"""The models. Their distributions are built with validate_args=False: torch.distributions
checks argument values on the host at every construction (a device wait each, dozens per
training step); non-finite values are caught by the training loop's guards instead."""

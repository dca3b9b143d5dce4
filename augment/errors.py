"""Errors the user can act on.

Every bad input raises a subclass of `AugmentError` with a message that names the
problem (the column, the class, the key, the file). The CLI prints the message and
exits with status 2 instead of showing a traceback.
"""


class AugmentError(Exception):
    """Base class of every error caused by the user's input or configuration."""


class DataError(AugmentError):
    """The dataset cannot be read or cannot be modelled as it is."""


class ConfigError(AugmentError):
    """A parameter is unknown, has the wrong type or an invalid value."""


class ModelError(AugmentError):
    """A model file is missing, corrupt, foreign, or the model is not fitted."""


class StaleCheckpointError(ModelError):
    """A checkpoint was written for other data or hyperparameters; it cannot be resumed."""


class OutputExistsError(AugmentError):
    """An output path holds something this project did not write; nothing was changed."""


class IncompatibleModelError(ModelError):
    """A model given to warm-start from cannot be mapped onto the new data (other family,
    modality, columns or network sizes); the message names the difference."""

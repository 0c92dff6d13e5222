"""Exceptions raised for bad input. Each names what is wrong and where."""


class SPSError(ValueError):
    """Base class of all input errors raised by sps."""


class KeypointError(SPSError):
    """Malformed keypoint data: wrong count, unparsable rows, NaN."""


class ParsingError(SPSError):
    """Parsing maps with labels out of range or a wrong shape."""


class DataError(SPSError):
    """A data folder or file that is missing or inconsistent."""


class ImageReadError(SPSError):
    """An image file or upload that cannot be decoded."""


class NoPersonError(SPSError):
    """No person was found in an image."""


class TooFewKeypointsError(SPSError):
    """A pose has too few visible keypoints for the part transforms."""


class MissingPartsError(TooFewKeypointsError):
    """The target pose needs body parts that the photo does not show (legs asked of a half-body portrait)."""


class WeightsError(SPSError):
    """A weights folder or file that is missing, truncated or does not match its config."""

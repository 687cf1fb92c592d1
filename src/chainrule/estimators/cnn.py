"""The convolutional estimator: CNNClassifier, over ``nn.CNN``."""
from __future__ import annotations

import math

from sklearn.utils.validation import check_is_fitted

from chainrule import nn
from chainrule import validation as check
from chainrule.data import Augment
from chainrule.estimators.base import NetworkClassifier, documented, draw_seed
from chainrule.nn.cnn import parse_spec
from chainrule.train import AugmentEachEpoch

#: The keyword arguments of :class:`chainrule.data.Augment` that ``augment`` may set.
AUGMENT_OPTIONS = ("crop_padding", "flip")


def image_shape_of(image_shape, n_features: int | None = None) -> tuple:
    """(C, H, W) for rows of ``n_features`` values: ``None`` is one 1×n_features image, (L,) is
    (1, 1, L), (H, W) is (1, H, W) and (C, H, W) is itself; a shape that does not hold
    ``n_features`` values is a ValueError naming both (``n_features=None`` checks the form only).

    >>> image_shape_of((8, 8), 64), image_shape_of(None, 5), image_shape_of((3, 32, 32), 3072)
    ((1, 8, 8), (1, 1, 5), (3, 32, 32))
    """
    if image_shape is None:
        return None if n_features is None else (1, 1, int(n_features))
    forms = "None, (length,), (height, width) or (channels, height, width)"
    if not isinstance(image_shape, (tuple, list)):
        raise TypeError(f"image_shape must be {forms}; got {image_shape!r}")
    if not 1 <= len(image_shape) <= 3:
        raise ValueError(f"image_shape must be {forms}; got {image_shape!r}")
    shape = [check.integer(f"image_shape[{i}]", s, low=1) for i, s in enumerate(image_shape)]
    shape = (1,) * (3 - len(shape)) + tuple(shape)
    if n_features is not None and math.prod(shape) != n_features:
        raise ValueError(f"image_shape {tuple(image_shape)} holds {math.prod(shape)} values per image, but X has "
                         f"{n_features} features per row: the row length must be C·H·W")
    return shape


@documented
class CNNClassifier(NetworkClassifier):
    """A convolutional network classifier: ``chainrule.nn.CNN`` trained by ``chainrule.train``.

    ``X`` holds flat rows, each an image unrolled in PyTorch's (C, H, W) order: channel by
    channel, each channel row by row (what ``images.reshape(n, -1)`` gives for NCHW images,
    scikit-learn's ``load_digits`` and chainrule's datasets). Images stored channels-last
    (N, H, W, C) are ``images.transpose(0, 3, 1, 2).reshape(n, -1)`` first. The network is
    ``conv`` (the layer string of :mod:`chainrule.nn.cnn`, e.g. ``"c16k5-m2-c32k5-m2"``; by
    default :func:`chainrule.nn.cnn.default_spec` for the image size) followed by a fully
    connected layer of one score per class, trained on the softmax cross-entropy (two classes
    get two scores, as in PyTorch). With ``image_shape=None`` each row is one 1×n_features
    image, so any table works (``check_estimator`` feeds such tables); give the real shape for
    images.

    {sections}

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from chainrule.estimators import CNNClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X / 16, y, stratify=y, random_state=0)
    >>> clf = CNNClassifier(image_shape=(8, 8), conv="c8-m2-c16", learning_rate_init=0.01, batch_size=32,
    ...                     max_iter=5, random_state=0).fit(X_train, y_train)
    >>> clf.input_shape_, clf.conv_, clf.score(X_test, y_test) > 0.95
    ((1, 8, 8), 'c8-m2-c16', True)
    """

    _parameter_docs = {
        'image_shape': ('None or tuple of int', 'The shape of one image: (H, W) for one channel, (C, H, W) with channels first, (L,)\nfor a signal; None is one 1×n_features image. Its C·H·W must be the number of columns of\n``X``.'),
        'conv': ('str or None', 'The convolutional layers as a layer string (``"c32-m2-c64"``: a 3×3 convolution with 32\nfilters and ReLU, 2×2 max pooling, …; the grammar of :mod:`chainrule.nn.cnn`). None picks\nthe default for the image size.'),
        'augment': ('dict or None', 'Train every epoch on new random copies of the images: the options of\n:class:`chainrule.data.Augment`, ``{"crop_padding": 1}`` (shifts of up to one pixel) and/or\n``{"flip": True}`` (mirror half of them; for natural images, not digits), seeded from\n``random_state``. None trains on the images as given.'),
    }
    _own_attributes = {
        'input_shape_': ('tuple of int', 'The (C, H, W) shape each row is seen as.'),
        'conv_': ('str', 'The layer string of the network (``conv`` or the default chosen).'),
        'model_': ('chainrule.nn.CNN', 'The fitted network (for ``chainrule.viz.plot_filters``, ``io.save_model``, …).'),
    }
    _shared_attributes = (
        'n_outputs_', 'classes_', 'n_features_in_', 'feature_names_in_', 'loss_curve_', 'best_loss_',
        'validation_scores_', 'best_validation_score_', 'n_iter_'
    )

    def __init__(self, image_shape=None, conv=None, *, solver="adam", alpha=1e-4, batch_size="auto",
                 learning_rate_init=1e-3, max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, augment=None, device="cpu"):
        self.image_shape = image_shape
        self.conv = conv
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.augment = augment
        self.device = device

    def _check_params(self):
        self._check_loop_params()
        self._check_network_params()
        image_shape_of(self.image_shape)
        if self.conv is not None:
            parse_spec(check.text("conv", self.conv))
        if self.augment is not None:
            expected = f"augment must be None or a dict of Augment's options {', '.join(AUGMENT_OPTIONS)}; " \
                       f"got {self.augment!r}"
            if not isinstance(self.augment, dict):
                raise TypeError(expected)
            if set(self.augment) - set(AUGMENT_OPTIONS):
                raise ValueError(expected)
            check.integer("augment['crop_padding']", self.augment.get("crop_padding", 0), low=0)
            check.boolean("augment['flip']", self.augment.get("flip", False))

    def _new_model(self, X, y):
        self.input_shape_ = image_shape_of(self.image_shape, X.shape[1])
        self.n_outputs_ = self._output_width(y)
        self._model = nn.CNN(self.input_shape_, self.n_outputs_, self.conv, rng=draw_seed(self._rng))
        self.conv_ = self._model.spec
        self._config = self._network_config(X)
        self._augment = None if self.augment is None else \
            Augment(self.input_shape_, **self.augment, seed=draw_seed(self._rng))

    def _training_callbacks(self, X, y):
        return [] if self._augment is None else [AugmentEachEpoch(self._augment, X, y)]

    @property
    def model_(self):
        """The fitted ``nn.CNN``."""
        check_is_fitted(self)
        return self._model

"""scikit-learn compatible estimators, trained by chainrule's own models, engine and optimizers.

Each estimator is a thin adapter: scikit-learn's :class:`~sklearn.base.BaseEstimator`, its
mixins and its validation helpers handle the contract (``get_params``/``set_params``/``clone``,
input checks, ``n_features_in_``, ``classes_``, ``score``), and a chainrule model does the
learning:

- :class:`MLPClassifier`: ``nn.MLP`` with the softmax cross-entropy (the logistic loss on one
  output for two classes), like scikit-learn's ``MLPClassifier``;
- :class:`MLPRegressor`: ``nn.MLP`` with the squared error, the lecture's E(w) (``MLPRegressor``);
- :class:`CNNClassifier`: ``nn.CNN``, a convolutional network on flat rows of images (C, H, W)
  (the next lecture; scikit-learn has none);
- :class:`SoftmaxClassifier`: ``models.LinearClassifier(loss="softmax")``, multinomial logistic
  regression (``LogisticRegression``);
- :class:`LinearSVMClassifier`: ``models.LinearClassifier(loss="svm")``, the multiclass hinge
  (``LinearSVC``);
- :class:`PerceptronClassifier`: ``models.Perceptron``, the rule w ← w + α(y − y′)x (``Perceptron``);
- :class:`LogisticRegressionClassifier`: ``models.LogisticRegression``, two classes only;
- :class:`BinarySVMClassifier`: ``models.BinarySVM``, two classes only.

All of them train in epochs (passes over the data) with the stopping rule of scikit-learn's
MLP: stop once the training loss (or, with ``early_stopping=True``, the score on a held-out
``validation_fraction``) has failed to improve by ``tol`` in more than ``n_iter_no_change``
consecutive epochs, or after ``max_iter`` epochs with a ``ConvergenceWarning``. ``partial_fit``
runs one epoch over the data it is given and keeps the optimizer's state between calls.

Labels may be anything scikit-learn accepts (strings, non-contiguous integers, …): they are
mapped to 0..K−1 for the chainrule model and back for ``predict``. Training is deterministic
for a fixed ``random_state``. Models compute in float32 (chainrule's default); predictions,
scores and probabilities are returned as float64.

>>> from sklearn.datasets import load_iris
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from chainrule.estimators import SoftmaxClassifier
>>> X, y = load_iris(return_X_y=True)
>>> clf = make_pipeline(StandardScaler(), SoftmaxClassifier(random_state=0)).fit(X, y)
>>> clf.score(X, y) > 0.9
True
"""

from chainrule.estimators.linear import (
    BinarySVMClassifier, LinearSVMClassifier, LogisticRegressionClassifier, PerceptronClassifier, SoftmaxClassifier,
)
from chainrule.estimators.cnn import CNNClassifier
from chainrule.estimators.mlp import MLPClassifier, MLPRegressor

__all__ = [
    "BinarySVMClassifier", "CNNClassifier", "LinearSVMClassifier", "LogisticRegressionClassifier", "MLPClassifier",
    "MLPRegressor", "PerceptronClassifier", "SoftmaxClassifier",
]

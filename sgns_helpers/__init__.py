"""Shared helpers for the "SGNS from scratch" notebooks: word2vec's skip-gram with negative
sampling in NumPy. One module per stage of the pipeline; see the README for the map."""
from .functions import log_sigmoid, log_sigmoid_grad, sigmoid, sigmoid_grad
from .gradcheck import check_gradients, numerical_gradient, relative_error
from .model import example_loss_and_grads, loss_and_grads, sgd_step

__all__ = [
    "sigmoid", "log_sigmoid", "sigmoid_grad", "log_sigmoid_grad",
    "example_loss_and_grads", "loss_and_grads", "sgd_step",
    "numerical_gradient", "relative_error", "check_gradients",
]

"""The MLP VAE of Kingma & Welling (2014), as the nonparametric VAE (Bodin et al., 2017) uses it for MNIST.

Bodin et al. (2017, "a nonparametric VAE", its Experiments section): "the decoder and both encoders as
Multilayer Perceptrons (MLP) with the same architecture as in the original VAE ...; two hidden
layers of 500 units each, ... a drop-out probability of 0.9 throughout training. The decoder used
was the Bernoulli MLP variant."

Our reading, stated in chapter 8:

- hidden units are ``tanh``, as in Kingma & Welling's Gaussian and Bernoulli MLPs (their App. C);
- "drop-out probability of 0.9" is read as TensorFlow's ``keep_prob = 0.9`` (``tf.nn.dropout``'s argument):
  each hidden unit is *dropped* with probability 0.1, after every hidden layer, in training mode only;
- the Gaussian encoder ends in one linear layer giving ``mu`` and ``log sigma^2`` side by side; the
  Bernoulli decoder outputs 784 logits (the sigmoid lives in the likelihood).
"""

from __future__ import annotations

from torch import nn

from wisetut.models.base import AutoEncoder

__all__ = ["mlp", "mlp_autoencoder", "BODIN_DROPOUT"]

BODIN_DROPOUT = 0.1  # Bodin et al.'s "drop-out probability of 0.9", read as keep_prob = 0.9


def mlp(n_in: int, n_out: int, hidden: tuple[int, ...] = (500, 500), dropout: float = BODIN_DROPOUT) -> nn.Sequential:
    """``Linear -> tanh -> Dropout`` for each hidden layer, then a linear output layer.

    Raises:
        ValueError: for non-positive sizes or a dropout probability outside ``[0, 1)``.
    """
    if n_in < 1 or n_out < 1 or any(h < 1 for h in hidden):
        raise ValueError(f"layer sizes must be positive, got n_in={n_in}, hidden={hidden}, n_out={n_out}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout is the probability of dropping a unit, in [0, 1); got {dropout}")
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(n_in, h), nn.Tanh(), nn.Dropout(dropout)]
        n_in = h
    layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


def mlp_autoencoder(
    latent_dim: int = 2,
    hidden: tuple[int, ...] = (500, 500),
    dropout: float = BODIN_DROPOUT,
    data_shape: tuple[int, ...] = (1, 28, 28),
) -> AutoEncoder:
    """Kingma & Welling's Gaussian MLP encoder and Bernoulli MLP decoder for digits in ``[0, 1]``.

    ``data_shape`` is one sample's shape (MNIST: ``(1, 28, 28)``); it is flattened on the way in.
    """
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be positive, got {latent_dim}")
    n_data = 1
    for s in data_shape:
        n_data *= int(s)
    encoder = nn.Sequential(nn.Flatten(), mlp(n_data, 2 * latent_dim, hidden, dropout))
    decoder = mlp(latent_dim, n_data, hidden, dropout)  # logits; the sigmoid is in the Bernoulli likelihood
    return AutoEncoder(encoder, decoder, latent_dim, likelihood="bernoulli", data_shape=data_shape)

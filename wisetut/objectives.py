"""The math core of WiSE-ALE: Gaussian overlaps and the two KL terms.

Every function takes the posterior parameters ``mu`` and ``logvar = log sigma^2`` (``[batch, latent]``) of
``q(z|x_i) = N(mu_i, diag(exp(logvar_i)))`` and works in log-space, so float32 stays finite for ``logvar``
in [-30, 10] and ``|mu|`` up to 1e3. Equation numbers: Lin et al. (2019), "WiSE-ALE" (arXiv:1902.06160).

- :func:`log_gaussian_overlap` is the integral of Appendix B, a product over latent dimensions of the factors
  ``A^{-1/2} B`` of Eq. 22-23: ``int N(z|mu_a, var_a) N(z|mu_b, var_b) dz = N(mu_a; mu_b, var_a + var_b)``.
- :func:`aevb_kl` is ``KL(q(z|x_i) || N(0, I))`` per sample, the prior term of Eq. 26.
- :func:`wise_kl` is ``KL_approx^UB`` of Eq. 21: Jensen's upper bound on the KL between the mini-batch
  aggregate posterior ``q(z|B_M) = 1/M sum_i q(z|x_i)`` (Eq. 10) and ``N(0, I)``. It never builds the
  ``[M, M, d]`` pairwise tensor: forward and hand-written backward accumulate the overlap matrix a few
  latent dimensions at a time, tiles on and above the diagonal only, in ``O(M^2 + M d)`` extra memory.
  Second derivatives are exact, through differentiable broadcast formulas at ``O(M^2 d)`` memory.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from wisetut.checks import check_finite, check_samples, values_visible

__all__ = [
    "log_gaussian_overlap",
    "aevb_kl",
    "wise_kl",
    "wise_kl_naive",
    "wise_kl_metric",
    "METRIC_LOGVAR_FLOOR",
    "neg_expected_log_prior",
    "check_posterior",
    "LOG_2PI",
]

LOG_2PI = math.log(2.0 * math.pi)
# The Eq. 21 *metric* (never a loss) is reported with posterior log-variances floored here: below
# about -103, exp() underflows to 0 in float32 and the bound is 0/0. Any posterior above the floor
# (every run of the book but one collapsing run of chapter 11) gives exactly the unfloored value.
METRIC_LOGVAR_FLOOR = -80.0

# The pairwise loops work on [DIM_BLOCK, ROW_BLOCK, B] tiles held in preallocated buffers:
# small enough to stay in cache, large enough to amortise PyTorch's per-operation overhead,
# and no fresh allocation (page faults) per operation. Measured in benchmarks/wise_kl.py.
_DIM_BLOCK = 4
_ROW_BLOCK = 128
_PAIRED_MIN_SIZE = 1 << 16  # below this many pairwise terms, the saved logarithms do not pay for the range check
# Log-variances less than this above log(smallest normal float) take the log-space path (float32: below about -79)
_LOG_SPACE_MARGIN = 8.0


def _tiles(n_rows: int, d: int):
    """Yield (row slice, latent-dim slice) pairs that cover an [n_rows, *, d] pairwise tensor."""
    for r in range(0, n_rows, _ROW_BLOCK):
        for k in range(0, d, _DIM_BLOCK):
            yield slice(r, min(r + _ROW_BLOCK, n_rows)), slice(k, min(k + _DIM_BLOCK, d))


def check_posterior(mu: Tensor, logvar: Tensor, name: str = "", *, finite: bool = True) -> None:
    """Raise a ValueError unless ``mu`` and ``logvar`` are matching, finite ``[batch, latent]`` tensors.

    The message names the argument and what was expected: a tensor (not a numpy array or a list),
    two dimensions, a floating-point dtype, one shape and one device for both, finite values.
    """
    for label, t in ((f"mu{name}", mu), (f"logvar{name}", logvar)):
        check_samples(label, t, shape="[batch, latent]", finite=False)
    if mu.shape != logvar.shape:
        raise ValueError(
            f"mu{name} and logvar{name} must have the same shape [batch, latent], got {tuple(mu.shape)} and {tuple(logvar.shape)}"
        )
    if mu.device != logvar.device:
        raise ValueError(f"mu{name} and logvar{name} must be on one device, got {mu.device} and {logvar.device}")
    if mu.shape[0] == 0 or mu.shape[1] == 0:
        raise ValueError(f"mu{name} must have a non-empty shape [batch, latent], got {tuple(mu.shape)}")
    if finite:
        _check_finite(mu, logvar, name)


def _check_finite(mu: Tensor, logvar: Tensor, name: str = "") -> None:
    check_finite(f"mu{name}", mu)
    check_finite(f"logvar{name}", logvar)


def _check_pair(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    """Raise a ValueError unless two sets of posteriors share their latent size and device."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same latent size: expected [A, d] and [B, d], "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.device != b.device:
        raise ValueError(f"{name_a} and {name_b} must be on one device, got {a.device} and {b.device}")


def _needs_log_space(*logvars: Tensor) -> bool:
    """Whether a variance ``exp(logvar)`` could underflow in the inputs' dtype (float32: below about -87).

    Then :func:`_log_overlap_log_space` computes the overlaps instead of the tiled kernels, whose
    variance sums would be ``0`` and their terms ``0/0``.
    """
    if not values_visible():  # inside vmap (stacked models): the tiled kernels, per model
        return False
    low = math.log(torch.finfo(logvars[0].dtype).tiny) + _LOG_SPACE_MARGIN
    return min(lv.detach().amin().item() for lv in logvars) < low


def _log_overlap_log_space(mu_a: Tensor, logvar_a: Tensor, mu_b: Tensor, logvar_b: Tensor) -> Tensor:
    """The ``[A, B]`` log overlaps in log space, as float64, for posteriors of any width; differentiable.

    ``log s = logaddexp(logvar_a, logvar_b)`` never forms a variance, and ``delta^2 / s`` is
    ``(delta e^{-log s / 2})^2``, finite in value and gradient down to log-variances of about
    -1,400. Builds the ``[A, B, d]`` tensor: the path for narrow posteriors, not the training kernel.
    """
    ma, la, mb, lb = (t.double() for t in (mu_a, logvar_a, mu_b, logvar_b))
    log_s = torch.logaddexp(la[:, None, :], lb[None, :, :])
    r = (ma[:, None, :] - mb[None, :, :]) * torch.exp(-0.5 * log_s)
    return -0.5 * (LOG_2PI + log_s + r.square()).sum(2)


def _log_overlap_grads_broadcast(mu_a: Tensor, logvar_a: Tensor, mu_b: Tensor, logvar_b: Tensor, g: Tensor):
    """The backward of :class:`_LogOverlap` by plain broadcasting over ``[A, B, d]``, in differentiable ops.

    The same formulas as the tiled backward (see :class:`_LogOverlap`), written so that autograd
    (and ``torch.func``) can differentiate them again: the double-backward path, exact to every
    order, at ``O(A B d)`` memory.
    """
    var_a, var_b = logvar_a.exp(), logvar_b.exp()
    inv = 1.0 / (var_a[:, None, :] + var_b[None, :, :])  # 1/s
    dos = (mu_a[:, None, :] - mu_b[None, :, :]) * inv  # delta/s
    gt = g[:, :, None] * dos
    q = g[:, :, None] * (inv - dos.square())  # g (1 - delta^2/s)/s
    return -gt.sum(1), -0.5 * var_a * q.sum(1), gt.sum(0), -0.5 * var_b * q.sum(0)


def _pair_products_safe(va: Tensor, vb: Tensor) -> bool:
    """Whether every product of two variance sums ``s = var_a + var_b`` stays a normal float (no under/overflow)."""
    lo, hi = (2 * x for x in torch.aminmax(va if va is vb else torch.cat([va, vb], 1)))
    lo, hi = lo.item(), hi.item()
    info = torch.finfo(va.dtype)
    return lo * lo > info.tiny * 1e3 and hi * hi < info.max / 1e3


def _tiled_log_overlap(ma: Tensor, va: Tensor, mb: Tensor, vb: Tensor, symmetric: bool) -> Tensor:
    """Forward of the overlap from dim-major ``[d, A]``, ``[d, B]`` means and variances (no autograd).

    ``symmetric`` (the batch against itself, ``ma is mb``): only the tiles on and right of the
    diagonal blocks are computed, and the rest is their transpose (``L_ab = L_ba`` exactly).
    """
    (d, n_a), n_b = ma.shape, mb.shape[1]
    symmetric = symmetric and n_a > _ROW_BLOCK  # one row block: nothing to save
    out = torch.zeros(n_a, n_b, dtype=ma.dtype, device=ma.device)
    buf_s = ma.new_empty(_DIM_BLOCK * _ROW_BLOCK * n_b)
    buf_t, buf_p = torch.empty_like(buf_s), torch.empty_like(buf_s)
    paired = n_a * n_b * d >= _PAIRED_MIN_SIZE and _pair_products_safe(va, vb)
    for rows, dims in _tiles(n_a, d):
        cols = slice(rows.start if symmetric else 0, n_b)
        shape = (dims.stop - dims.start, rows.stop - rows.start, cols.stop - cols.start)
        s = torch.add(va[dims, rows, None], vb[dims, None, cols], out=buf_s[: math.prod(shape)].view(shape))
        t = torch.sub(ma[dims, rows, None], mb[dims, None, cols], out=buf_t[: math.prod(shape)].view(shape))
        t.square_().div_(s)  # delta^2 / s
        if paired and shape[0] % 2 == 0:  # log s_1 + log s_2 = log(s_1 s_2): half the logarithms
            half = (shape[0] // 2, *shape[1:])
            s = torch.mul(s[0::2], s[1::2], out=buf_p[: math.prod(half)].view(half))
            out[rows, cols] -= s.log_().sum(0).add_(t.sum(0))
        else:
            out[rows, cols] -= s.log_().add_(t).sum(0)
    if symmetric:
        for start in range(0, n_a, _ROW_BLOCK):
            rows = slice(start, min(start + _ROW_BLOCK, n_a))
            out[rows.stop :, rows] = out[rows, rows.stop :].t()
    return out.mul_(0.5).sub_(0.5 * d * LOG_2PI)


def _tiled_log_overlap_grads(ma, va, mb, vb, g: Tensor, symmetric: bool):
    """Backward of :func:`_tiled_log_overlap` for the upstream gradient ``g`` ``[A, B]`` (no autograd).

    Returns dim-major ``[d, *]`` gradients ``(mu_a, logvar_a, mu_b, logvar_b)``. With ``symmetric``
    only the upper tiles are visited, each pair ``a < b`` once with the weight ``g_ab + g_ba``
    (``L_ab`` and ``L_ba`` are one function) and the pairs ``a = b`` with ``g_aa``; either way the
    gradient of the one input of a self-overlap is the sum of its two roles' gradients.
    """
    (d, n_a), n_b = ma.shape, mb.shape[1]
    symmetric = symmetric and n_a > _ROW_BLOCK  # one row block: nothing to save
    if symmetric:
        g = torch.triu(g + g.t(), diagonal=1) + torch.diag_embed(g.diagonal())
    g = g.contiguous()
    grad_mu_a, q_a = torch.zeros_like(ma), torch.zeros_like(ma)
    grad_mu_b, q_b = torch.zeros_like(mb), torch.zeros_like(mb)
    bufs = [ma.new_empty(_DIM_BLOCK * _ROW_BLOCK * n_b) for _ in range(3)]
    for rows, dims in _tiles(n_a, d):
        cols = slice(rows.start if symmetric else 0, n_b)
        shape = (dims.stop - dims.start, rows.stop - rows.start, cols.stop - cols.start)
        inv, dos, t = (b[: math.prod(shape)].view(shape) for b in bufs)
        torch.add(va[dims, rows, None], vb[dims, None, cols], out=inv).reciprocal_()  # 1/s
        torch.sub(ma[dims, rows, None], mb[dims, None, cols], out=dos).mul_(inv)  # delta/s
        g_tile = g[rows, cols]
        torch.mul(dos, g_tile, out=t)  # g delta/s
        gi = inv.mul_(g_tile)  # g/s, in inv's buffer
        grad_mu_a[dims, rows] -= t.sum(2)
        grad_mu_b[dims, cols] += t.sum(1)
        q = gi.sub_(t.mul_(dos))  # g (1 - delta^2/s)/s = g/s - (g delta/s)(delta/s)
        q_a[dims, rows] += q.sum(2)
        q_b[dims, cols] += q.sum(1)
    return grad_mu_a, q_a.mul_(va).mul_(-0.5), grad_mu_b, q_b.mul_(vb).mul_(-0.5)


def _dim_major(*tensors: Tensor) -> list[Tensor]:
    return [t.t().contiguous() for t in tensors]


def _log_overlap_grads(mu_a: Tensor, logvar_a: Tensor, mu_b: Tensor, logvar_b: Tensor, g: Tensor, *, symmetric: bool):
    """The gradients of the [A, B] log overlaps in all four inputs, given ``g`` (both Functions' backward).

    The tiled, in-place, first-order pass (:func:`_tiled_log_overlap_grads`; ``symmetric`` when
    ``a`` and ``b`` are the same batch), or, when a graph of the gradient is wanted (double
    backward), :func:`_log_overlap_grads_broadcast`, the same formulas in differentiable ops.
    """
    if torch.is_grad_enabled():  # a graph of the gradient is wanted (double backward)
        return _log_overlap_grads_broadcast(mu_a, logvar_a, mu_b, logvar_b, g)
    ma, va, mb, vb = _dim_major(mu_a, logvar_a.exp(), mu_b, logvar_b.exp())
    return tuple(t.t() for t in _tiled_log_overlap_grads(ma, va, mb, vb, g, symmetric=symmetric))


class _SavesInputs(torch.autograd.Function):
    """Both overlap Functions keep their inputs for the backward pass (new-style, so ``torch.func`` works).

    Under :func:`torch.func.vmap` (several models stacked, ``benchmarks/train_speed.py``) each Function is
    applied once per stacked model: the tiled kernels write into preallocated buffers, which vmap cannot batch.
    """

    @classmethod
    def vmap(cls, info, in_dims, *args):  # torch.func calls it as Function.vmap(info, in_dims, *args)
        args = [a if d is None else a.movedim(d, 0) for a, d in zip(args, in_dims)]
        return torch.stack(
            [cls.apply(*(a if d is None else a[k] for a, d in zip(args, in_dims))) for k in range(info.batch_size)]
        ), 0

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.save_for_backward(*inputs)


class _LogOverlap(_SavesInputs):
    """log N(mu_a; mu_b, var_a + var_b) summed over latent dims, with an O(A B + (A+B) d) backward.

    Forward, per latent dimension k (Appendix B, Eq. 22-23)::

        L_ab = -1/2 sum_k (log 2pi + log s_abk + delta_abk^2 / s_abk),
        s_abk = var_ak + var_bk,  delta_abk = mu_ak - mu_bk

    Backward, given g = dLoss/dL (an [A, B] matrix), per dimension k::

        dL_ab/dmu_ak     = -delta/s                 dL_ab/dmu_bk     = +delta/s
        dL_ab/dlogvar_ak = -1/2 (var_ak/s)(1 - delta^2/s)   (and likewise for b)

    Both passes walk over tiles of rows and latent dimensions (:func:`_tiles`), so nothing of
    size [A, B, d] is ever held. The tiled backward works in place and is first-order only: when
    a graph of the gradient is asked for (``create_graph=True``, ``torch.func.grad`` of a
    gradient, ``gradgradcheck``), the backward is instead :func:`_log_overlap_grads_broadcast`,
    the same formulas in differentiable ops, exact to every order, at ``O(A B d)`` memory.
    """

    @staticmethod
    def forward(mu_a: Tensor, logvar_a: Tensor, mu_b: Tensor, logvar_b: Tensor) -> Tensor:
        ma, va, mb, vb = _dim_major(mu_a, logvar_a.exp(), mu_b, logvar_b.exp())
        return _tiled_log_overlap(ma, va, mb, vb, symmetric=False)

    @staticmethod
    def backward(ctx, g: Tensor):
        return _log_overlap_grads(*ctx.saved_tensors, g, symmetric=False)


class _SelfLogOverlap(_SavesInputs):
    """:class:`_LogOverlap` of a batch with itself, ``[M, M]``: half the work, by the symmetry ``L_ab = L_ba``."""

    @staticmethod
    def forward(mu: Tensor, logvar: Tensor) -> Tensor:
        m, v = _dim_major(mu, logvar.exp())
        return _tiled_log_overlap(m, v, m, v, symmetric=True)

    @staticmethod
    def backward(ctx, g: Tensor):
        mu, logvar = ctx.saved_tensors
        grad_mu_a, grad_logvar_a, grad_mu_b, grad_logvar_b = _log_overlap_grads(mu, logvar, mu, logvar, g, symmetric=True)
        return grad_mu_a + grad_mu_b, grad_logvar_a + grad_logvar_b


def log_gaussian_overlap(mu_a: Tensor, logvar_a: Tensor, mu_b: Tensor, logvar_b: Tensor) -> Tensor:
    """Log of the overlap integral of two diagonal Gaussians, for every pair: ``[A, B]``.

    Entry ``(a, b)`` is ``log int N(z|mu_a, var_a) N(z|mu_b, var_b) dz``
    ``= sum_k log N(mu_ak; mu_bk, var_ak + var_bk)`` (Appendix B; the product over k of
    ``A^{-1/2} B`` in Eq. 21-23, taken in log-space).

    Args:
        mu_a, logvar_a: ``[A, d]`` means and log-variances of the first set of Gaussians.
        mu_b, logvar_b: ``[B, d]`` means and log-variances of the second set.

    Returns:
        ``[A, B]`` tensor of log overlaps, differentiable in all four inputs.

    Raises:
        ValueError: if any input is not a floating-point ``[batch, latent]`` tensor, or the
            latent sizes of the two sets differ.
    """
    check_posterior(mu_a, logvar_a, "_a", finite=False)
    check_posterior(mu_b, logvar_b, "_b", finite=False)
    _check_pair(mu_a, mu_b, "mu_a", "mu_b")
    _check_finite(mu_a, logvar_a, "_a")
    _check_finite(mu_b, logvar_b, "_b")
    if _needs_log_space(logvar_a, logvar_b):
        return _log_overlap_log_space(mu_a, logvar_a, mu_b, logvar_b).to(mu_a.dtype)
    return _LogOverlap.apply(mu_a, logvar_a, mu_b, logvar_b)


def aevb_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """``KL(N(mu_i, diag(exp(logvar_i))) || N(0, I))`` for each sample: ``[M]``.

    The per-sample prior term of the AEVB objective (Eq. 26):
    ``1/2 sum_k (sigma_k^2 + mu_k^2 - 1 - log sigma_k^2)``.
    """
    check_posterior(mu, logvar)
    return 0.5 * (logvar.exp() + mu.square() - 1.0 - logvar).sum(1)


def neg_expected_log_prior(mu: Tensor, logvar: Tensor) -> Tensor:
    """``-E_q(z|x_i)[log N(z|0, I)] = 1/2 sum_k (sigma_k^2 + mu_k^2 + log 2pi)`` per sample: ``[M]``.

    Appendix B, Eq. 13: the second term of Eq. 20, and ``C`` of Eq. 24 summed over k and halved.
    """
    check_posterior(mu, logvar)
    return _neg_expected_log_prior(mu, logvar)


def _neg_expected_log_prior(mu: Tensor, logvar: Tensor) -> Tensor:
    """:func:`neg_expected_log_prior` on inputs already checked (the Eq. 21 functions check theirs once)."""
    return 0.5 * (logvar.exp() + mu.square() + LOG_2PI).sum(1)


def wise_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """``KL_approx^UB`` of Eq. 21 for the aggregate posterior of a mini-batch: a scalar.

    With ``M`` samples in the batch::

        KL_UB = 1/M sum_i log( 1/M sum_j prod_k A_ijk^{-1/2} B_ijk )      (Eq. 21, first term)
              + 1/(2M) sum_i sum_k (sigma_ik^2 + mu_ik^2 + log 2pi)        (Eq. 21, C of Eq. 24)

    The first term is a log-sum-exp over :func:`log_gaussian_overlap` of the batch with itself.
    By Jensen's inequality (Eq. 19-20) this is an upper bound on the true
    ``KL(q(z|B_M) || N(0, I))``; chapter 2 of the book measures the gap.

    Memory: ``O(M^2 + M d)`` extra, for forward and backward together. Posteriors so narrow that
    a variance underflows (float32: ``logvar`` below about -79) are computed in log space and
    float64 instead (:func:`_log_overlap_log_space`): finite and exact to rounding in value and
    gradient down to log-variances of about -1,400.

    Raises:
        ValueError: unless ``mu`` and ``logvar`` are matching, finite ``[batch, latent]`` float
            tensors on one device (:func:`check_posterior`).
    """
    check_posterior(mu, logvar)
    m = mu.shape[0]
    if _needs_log_space(logvar):
        log_overlap = _log_overlap_log_space(mu, logvar, mu, logvar)
        first = (torch.logsumexp(log_overlap, dim=1) - math.log(m)).mean()
        return (first + _neg_expected_log_prior(mu.double(), logvar.double()).mean()).to(mu.dtype)
    log_overlap = _SelfLogOverlap.apply(mu, logvar)  # [M, M]
    first = (torch.logsumexp(log_overlap, dim=1) - math.log(m)).mean()
    return first + _neg_expected_log_prior(mu, logvar).mean()


def wise_kl_naive(mu: Tensor, logvar: Tensor) -> Tensor:
    """Eq. 21 by plain broadcasting, building the ``[M, M, d]`` tensor: a reference and a baseline.

    Same value as :func:`wise_kl`; kept for the tests and ``benchmarks/wise_kl.py``, not for training.
    """
    check_posterior(mu, logvar)
    m = mu.shape[0]
    var = logvar.exp()
    s = var[:, None, :] + var[None, :, :]
    delta2 = (mu[:, None, :] - mu[None, :, :]).square()
    log_overlap = -0.5 * (LOG_2PI + s.log() + delta2 / s).sum(2)
    first = (torch.logsumexp(log_overlap, dim=1) - math.log(m)).mean()
    return first + _neg_expected_log_prior(mu, logvar).mean()


def wise_kl_metric(mu: Tensor, logvar: Tensor) -> Tensor:
    """Eq. 21 as a reported metric: :func:`wise_kl` with log-variances floored at :data:`METRIC_LOGVAR_FLOOR`."""
    return wise_kl(mu, logvar.clamp_min(METRIC_LOGVAR_FLOOR))

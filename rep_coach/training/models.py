"""
PyTorch definitions of the learned stages and of the published-size reference.

* :class:`CausalTCN` - stage 1: residual blocks of dilated *causal* 1-D convs.
  Trained on whole sequences; :class:`StreamingTCN` runs the same weights on
  any number of new samples with one packed state tensor (the last inputs
  every conv needs), so streaming output equals the offline output exactly.
  :class:`StreamingEnsemble` runs several such networks (trained with
  different seeds) on the same input and averages their logits.
* :class:`RepClassifier` - stage 2: per-rep features + a small conv encoder of
  the rep's raw signal + a GRU over the reps of the set; two heads
  (near-failure logit, reps-in-reserve logits 0/1/2/3+).
* :class:`RefResNet` / :class:`RefClassifier` - the reference built from the
  published design's facts (256-sample windows, stem 128, stage widths
  [64, 64, 256, 256, 64, 256], ~805 k params; a 2 x 1024 LSTM classifier).
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

from rep_coach.core.types import REP_SIGNAL_POINTS
from rep_coach.learned.kinematic_input import N_INPUTS
from rep_coach.learned.preprocess import N_REP_CHANNELS
import torch
from torch import nn
import torch.nn.functional as F


class CausalTCN(nn.Module):
    """
    Stage-1 segmenter: causal dilated residual TCN, per-sample logits.

    Input: the mounting-invariant channels of :mod:`rep_coach.learned.kinematic_input`.

    Outputs 2 channels: 0 = within +-0.4 s of a rep end (the published target),
    1 = inside a rep (gives the first rep's start of a set).
    """

    def __init__(self, channels: int = 32, dilations: Sequence[int] = (1, 2, 4, 8, 16, 32, 64),
                 kernel: int = 3, in_channels: int = N_INPUTS, out_channels: int = 2) -> None:
        """Build the network."""
        super().__init__()
        self.kernel = kernel
        self.dilations = tuple(int(d) for d in dilations)
        self.stem = nn.Conv1d(in_channels, channels, 1)
        self.convs = nn.ModuleList()
        for _ in self.dilations:
            for _ in range(2):
                self.convs.append(nn.Conv1d(channels, channels, kernel))
        self.head = nn.Conv1d(channels, out_channels, 1)

    @property
    def pads(self) -> List[int]:
        """Left context (samples) each conv needs, in order."""
        return [(self.kernel - 1) * d for d in self.dilations for _ in range(2)]

    @property
    def receptive_field(self) -> int:
        """Samples of input one output depends on."""
        return 1 + sum(self.pads)

    def _conv(self, i: int, h: torch.Tensor, dilation: int) -> torch.Tensor:
        conv = self.convs[i]
        return F.conv1d(h, conv.weight, conv.bias, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N_INPUTS, T) -> (B, 2, T) logits; zero left padding (a stream's initial state)."""
        h = self.stem(x)
        pads = self.pads
        for b, d in enumerate(self.dilations):
            r = h
            for j in range(2):
                i = 2 * b + j
                h = self._conv(i, F.pad(h, (pads[i], 0)), d)
                if j == 0:
                    h = F.relu(h)
            h = F.relu(h + r)
        return self.head(h)


class StreamingTCN(nn.Module):
    """
    The same weights as a :class:`CausalTCN`, fed new samples plus a state.

    ``state`` packs, per conv, the last ``pad`` samples of its input, (1, C, sum(pads)).
    The offline model pads every conv's input with zeros on the left, so an
    all-zero state (:meth:`initial_state`) reproduces its output exactly.
    """

    def __init__(self, tcn: CausalTCN) -> None:
        """Wrap a trained network."""
        super().__init__()
        self.tcn = tcn
        pads = tcn.pads
        self.offsets = [sum(pads[:i]) for i in range(len(pads))]
        self.total = sum(pads)

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(1, 8, n), (1, C, S) -> (1, 2, n) logits, new state."""
        tcn = self.tcn
        pads = tcn.pads
        h = tcn.stem(x)
        new_states = []
        for b, d in enumerate(tcn.dilations):
            r = h
            for j in range(2):
                i = 2 * b + j
                past = state[:, :, self.offsets[i]:self.offsets[i] + pads[i]]
                buf = torch.cat([past, h], dim=2)
                new_states.append(buf[:, :, buf.shape[2] - pads[i]:])
                h = tcn._conv(i, buf, d)
                if j == 0:
                    h = F.relu(h)
            h = F.relu(h + r)
        return tcn.head(h), torch.cat(new_states, dim=2)

    def initial_state(self) -> torch.Tensor:
        """Zeros: every conv's past input is the zero padding of the offline model."""
        return torch.zeros(1, self.tcn.stem.out_channels, self.total)


class StreamingEnsemble(nn.Module):
    """
    Several :class:`StreamingTCN` on the same input; logits = their mean.

    Why: on four lifters a single segmenter's rep count depends on its seed
    (thomas2025 LOSO, seeds 0-2: count MAE 0.09 / 0.02 / 0.18); averaging the
    members removes most of that variance.  The members' states are stacked on
    the channel axis, so the runtime sees one state tensor as for one network.
    """

    def __init__(self, members: Sequence[CausalTCN]) -> None:
        """Wrap trained networks of the same shape."""
        super().__init__()
        if not members:
            raise ValueError('an ensemble needs at least one member')
        self.members = nn.ModuleList(StreamingTCN(m) for m in members)
        self.width = members[0].stem.out_channels
        if any(m.stem.out_channels != self.width or m.pads != members[0].pads
               for m in members):
            raise ValueError('ensemble members must have the same channels and dilations')

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(1, in, n), (1, K * C, S) -> (1, 2, n) mean logits, new state."""
        logits, states = [], []
        for k, member in enumerate(self.members):
            y, s = member(x, state[:, k * self.width:(k + 1) * self.width])
            logits.append(y)
            states.append(s)
        return torch.stack(logits).mean(dim=0), torch.cat(states, dim=1)

    def initial_state(self) -> torch.Tensor:
        """Zeros for every member (see :meth:`StreamingTCN.initial_state`)."""
        return torch.cat([m.initial_state() for m in self.members], dim=1)


class RepClassifier(nn.Module):
    """
    Stage-2 near-failure classifier over the reps of one set.

    Per rep: feature vector (standardised inside, NaN replaced by 0 beforehand by
    the caller), the rep's raw signal resampled to ``sig_len`` samples as its
    ``sig_channels`` mounting-invariant channels (``rep_channels``), and the
    GRU state carried from the previous rep of the set.  With ``recurrent=False``
    every rep starts from a zero state (training and runtime alike), so no memory
    crosses reps beyond what the set-relative features carry.
    """

    def __init__(self, n_features: int, sig_len: int = REP_SIGNAL_POINTS,
                 enc_channels: int = 24, hidden: int = 32, recurrent: bool = True,
                 sig_channels: int = N_REP_CHANNELS) -> None:
        """Build the network."""
        super().__init__()
        self.sig_channels = sig_channels
        self.recurrent = bool(recurrent)
        self.n_features = n_features
        self.sig_len = sig_len
        self.hidden = hidden
        self.register_buffer('feat_mean', torch.zeros(n_features))
        self.register_buffer('feat_std', torch.ones(n_features))
        self.encoder = nn.Sequential(
            nn.Conv1d(sig_channels, 16, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(16, enc_channels, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(enc_channels, enc_channels, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool1d(1))
        self.mix = nn.Sequential(nn.Linear(n_features + enc_channels, hidden), nn.ReLU())
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.drop = nn.Dropout(0.2)
        self.head = nn.Linear(hidden + n_features, 5)  # 1 near-failure logit + 4 RIR logits

    def forward(self, feats: torch.Tensor, sig: torch.Tensor,
                h0: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, R, F), (B, R, C, L), (1, B, H) -> nf logits (B, R), rir logits (B, R, 4), h."""
        b, r = feats.shape[0], feats.shape[1]
        if not self.recurrent and r > 1:
            # Each rep its own one-step sequence from a zero state.
            nf, rir, _ = self(feats.reshape(b * r, 1, -1),
                              sig.reshape(b * r, 1, *sig.shape[2:]),
                              torch.zeros(1, b * r, self.hidden))
            return nf.reshape(b, r), rir.reshape(b, r, -1), h0
        f = (feats - self.feat_mean) / self.feat_std
        e = self.encoder(sig.reshape(b * r, self.sig_channels, sig.shape[-1])).reshape(b, r, -1)
        z = self.mix(torch.cat([f, e], dim=2))
        out, h = self.gru(z, h0)
        y = self.head(torch.cat([self.drop(out), f], dim=2))
        return y[..., 0], y[..., 1:], h


class RepClassifierStep(nn.Module):
    """One-rep step of a :class:`RepClassifier` for export (B = R = 1)."""

    def __init__(self, model: RepClassifier) -> None:
        """Wrap a trained classifier."""
        super().__init__()
        self.model = model

    def forward(self, feats: torch.Tensor, sig: torch.Tensor,
                h: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(1, F), (1, C, L), (1, 1, H) -> prob (1, 1), rir probs (1, 4), h (1, 1, H)."""
        nf, rir, h_new = self.model(feats[:, None, :], sig[:, None], h)
        return torch.sigmoid(nf), torch.softmax(rir[:, 0], dim=1), h_new


# ----------------------------------------------------------------------------- reference
class _RefBlock(nn.Module):

    def __init__(self, cin: int, cout: int, kernel: int) -> None:
        super().__init__()
        self.c1 = nn.Conv1d(cin, cout, kernel, padding='same')
        self.b1 = nn.BatchNorm1d(cout)
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.b1(self.c1(x)) + self.skip(x))


class RefResNet(nn.Module):
    """
    Published-size segmenter: 256-sample window -> per-sample logit (non-causal within it).

    Stem 128 channels, residual stages of widths [64, 64, 256, 256, 64, 256], one
    conv of kernel 6 per stage with a 1x1 projection shortcut: the kernel and
    block depth are not published; these put the count at ~823 k (paper: ~805 k).
    """

    def __init__(self, widths: Sequence[int] = (64, 64, 256, 256, 64, 256),
                 stem: int = 128, kernel: int = 6) -> None:
        """Build the network."""
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(6, stem, kernel, padding='same'),
                                  nn.BatchNorm1d(stem), nn.ReLU())
        blocks, cin = [], stem
        for w in widths:
            blocks.append(_RefBlock(cin, w, kernel))
            cin = w
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv1d(cin, 1, 1)
        self.out_channels = cin

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 6, 256) -> (B, C, 256) last-stage features."""
        return self.blocks(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 6, 256) -> (B, 1, 256) logits."""
        return self.head(self.features(x))


class RefClassifier(nn.Module):
    """
    Published-size classifier: conv features of the window + segmentation features.

    Per 0.64 s window: a conv encoder of the raw window (to 1024 - 8 values)
    concatenated with 8 segmentation-derived values, then a 2-layer 1024-unit
    LSTM over the windows of the history; ~17 M parameters.
    """

    def __init__(self, seg_features: int = 8, hidden: int = 1024) -> None:
        """Build the network."""
        super().__init__()
        width = hidden - seg_features
        self.encoder = nn.Sequential(
            nn.Conv1d(7, 128, 7, padding=3), nn.ReLU(), nn.MaxPool1d(4),
            nn.Conv1d(128, 256, 7, padding=3), nn.ReLU(), nn.MaxPool1d(4),
            nn.Conv1d(256, width, 1), nn.ReLU(), nn.AdaptiveAvgPool1d(1))
        self.lstm = nn.LSTM(hidden, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, window: torch.Tensor, seg: torch.Tensor, h: torch.Tensor,
                c: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """
        (B, W, 7, 256), (B, W, 8), (2, B, H) x2 -> logits (B, W), h, c.

        Channel 7 of the window is the segmenter's probability for its samples.
        """
        b, w = window.shape[:2]
        e = self.encoder(window.reshape(b * w, 7, window.shape[-1])).reshape(b, w, -1)
        out, (h, c) = self.lstm(torch.cat([e, seg], dim=2), (h, c))
        return self.head(out)[..., 0], h, c


def n_params(model: nn.Module) -> int:
    """Trainable parameter count."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

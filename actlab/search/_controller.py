"""The paper's RNN controller: an LSTM emits the tree one slot at a time and learns from validation accuracy.

Training is PPO (clipped ratio, as in Ramachandran et al.) or REINFORCE; both use an exponential moving average of
rewards as the baseline. The controller's weights, baseline and the set of trials it has learnt from are
checkpointed in the study's user attribute ``controller`` after every update, so the strategy itself holds nothing
that a resumed (or another) driver would lack; the in-memory model is only a cache of that checkpoint.
"""

from __future__ import annotations

import base64
import contextlib
import io
import math
from typing import Any, Iterator

import optuna
import torch
from torch import nn

from ._space import Candidate, SearchSpace
from ._strategies import Strategy, _fitness, register
from ._study import direction_sign, evaluated, seen_identities

__all__ = ["Controller", "ControllerNet"]

_ATTR = "controller"


class ControllerNet(nn.Module):
    """LSTM policy over the slots; input at each step is the previous token (or a start token).

    Args:
        space: the slots and their choices.
        hidden: LSTM width. Default: 32.
    """

    def __init__(self, space: SearchSpace, hidden: int = 32) -> None:
        super().__init__()
        self.sizes = [len(s.choices) for s in space.slots]
        self.offsets = [0]
        for k in self.sizes:
            self.offsets.append(self.offsets[-1] + k)
        self.embed = nn.Embedding(self.offsets[-1] + 1, hidden)  # last index = start token
        self.cell = nn.LSTMCell(hidden, hidden)
        self.heads = nn.ModuleList(nn.Linear(hidden, k) for k in self.sizes)
        self.hidden = hidden

    def _run(self, batch: int, choose: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = torch.zeros(batch, self.hidden)
        c = torch.zeros(batch, self.hidden)
        prev = torch.full((batch,), self.offsets[-1], dtype=torch.long)
        logps, ents, picks = [], [], []
        for i, head in enumerate(self.heads):
            h, c = self.cell(self.embed(prev), (h, c))
            dist = torch.distributions.Categorical(logits=head(h))
            a = choose(i, dist)
            logps.append(dist.log_prob(a))
            ents.append(dist.entropy())
            picks.append(a)
            prev = a + self.offsets[i]
        return torch.stack(picks, 1), torch.stack(logps, 1).sum(1), torch.stack(ents, 1).sum(1)

    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            picks, logp, _ = self._run(n, lambda i, d: torch.multinomial(d.probs, 1, generator=gen).squeeze(1))
        return picks, logp

    def score(self, picks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability and entropy of given token indices (batch × slots)."""
        _, logp, ent = self._run(picks.shape[0], lambda i, d: picks[:, i])
        return logp, ent


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    # The policy is tiny: on cores shared with the workers, torch's thread pool makes each op ~100x slower.
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


def _pack(state: dict[str, Any]) -> str:
    buf = io.BytesIO()
    torch.save(state, buf)
    return base64.b64encode(buf.getvalue()).decode()


def _unpack(text: str) -> Any:
    return torch.load(io.BytesIO(base64.b64decode(text)), weights_only=True)


@register
class Controller(Strategy):
    """RNN controller trained with PPO (default) or REINFORCE and an EMA baseline.

    Args:
        algo: ``"ppo"`` or ``"reinforce"``.
        batch: finished trials per policy update. Default: 8.
        lr: Adam learning rate. Default: 5e-3.
        ema: baseline decay. Default: 0.9.
        entropy: entropy bonus weight. Default: 1e-2.
        normalize: divide each batch's advantages by their standard deviation (standard PPO practice), so that the
            step size does not depend on how spread the accuracies of a task are. Default: True.
        skip_reward: reward of a proposal the prefilter rejected: ``"min"`` (the worst accuracy of the batch,
            so rejects rank last without dragging the baseline to 0) or ``"zero"``. Default: ``"min"``.
        keep_adam: carry Adam's moments from one update to the next (checkpointed with the weights). A fresh Adam
            per update makes every first step ±lr per weight whatever the gradient says. Default: True.
    """

    name = "controller"
    summary = "LSTM controller emitting the tree token by token, trained with PPO or REINFORCE"

    def __init__(self, space: SearchSpace, seed: int = 0, algo: str = "ppo", batch: int = 8, lr: float = 5e-3,
                 ema: float = 0.9, entropy: float = 1e-2, ppo_epochs: int = 4, clip: float = 0.2,
                 normalize: bool = True, skip_reward: str = "min", keep_adam: bool = True) -> None:
        super().__init__(space, seed)
        if algo not in ("ppo", "reinforce"):
            raise ValueError(f"controller algo must be 'ppo' or 'reinforce', got {algo!r}")
        if batch < 1:
            raise ValueError(f"controller batch must be >= 1, got {batch}")
        self.algo, self.batch, self.lr, self.ema = algo, batch, lr, ema
        if skip_reward not in ("min", "zero"):
            raise ValueError(f"controller skip_reward must be 'min' or 'zero', got {skip_reward!r}")
        self.entropy, self.ppo_epochs, self.clip = entropy, ppo_epochs, clip
        self.normalize, self.skip_reward, self.keep_adam = bool(normalize), skip_reward, bool(keep_adam)
        self._cache: tuple[int, ControllerNet, torch.optim.Adam] | None = None

    # ---- checkpoint in the study

    def _load(self, study: optuna.Study) -> tuple[ControllerNet, torch.optim.Adam, dict[str, Any]]:
        state = study.user_attrs.get(_ATTR) or {"updates": 0, "consumed": [], "baseline": None}
        if self._cache is not None and self._cache[0] == state["updates"]:
            return self._cache[1], self._cache[2], state
        torch.manual_seed(self.seed)
        net = ControllerNet(self.space)
        if state.get("weights"):
            net.load_state_dict(_unpack(state["weights"]))
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        if self.keep_adam and state.get("adam"):
            opt.load_state_dict(_unpack(state["adam"]))
        self._cache = (state["updates"], net, opt)
        return net, opt, state

    def _save(self, study: optuna.Study, net: ControllerNet, opt: torch.optim.Adam, state: dict[str, Any]) -> None:
        state = dict(state, updates=state["updates"] + 1, weights=_pack(net.state_dict()))
        if self.keep_adam:
            state["adam"] = _pack(opt.state_dict())
        else:
            opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        study.set_user_attr(_ATTR, state)
        self._cache = (state["updates"], net, opt)

    # ---- learning

    def _indices(self, tokens: dict[str, str]) -> list[int]:
        return [s.choices.index(tokens[s.name]) for s in self.space.slots]

    def learn(self, study: optuna.Study) -> int:
        """Update the policy on finished trials it has not learnt from yet; returns the number used."""
        net, opt, state = self._load(study)
        consumed = set(state["consumed"])
        # Prefilter-rejected proposals count too (reward 0), so the policy learns to avoid them.
        trials = study.get_trials(deepcopy=False)
        fresh = [t for t in evaluated(study, trials) + [t for t in trials if "skipped" in t.user_attrs]
                 if t.number not in consumed and t.params]
        if len(fresh) < self.batch:
            return 0
        fresh.sort(key=lambda t: t.number)
        sign = direction_sign(study)
        raw = [_fitness(t, sign) if "skipped" not in t.user_attrs else None for t in fresh]
        if sign > 0:  # accuracies: rewards in [0, 1], a failed run at 0
            acc = [max(0.0, f) if f is not None and math.isfinite(f) else 0.0 for f in raw]
        else:  # −loss: a failed run at the worst finite reward of the batch (0 would be the best possible)
            finite = [f for f in raw if f is not None and math.isfinite(f)]
            worst = min(finite, default=0.0)
            acc = [f if f is not None and math.isfinite(f) else worst for f in raw]
        floor = min((a for a, f in zip(acc, raw, strict=True) if f is not None), default=0.0)
        if self.skip_reward == "zero" and sign > 0:
            floor = 0.0
        rewards = torch.tensor([a if f is not None else floor for a, f in zip(acc, raw, strict=True)])
        b = state["baseline"]
        base = []
        for r, f in zip(rewards.tolist(), raw, strict=True):  # EMA baseline over trained candidates, in trial order
            if f is not None or self.skip_reward == "zero":
                b = r if b is None else self.ema * b + (1 - self.ema) * r
            base.append(r if b is None else b)
        adv = rewards - torch.tensor(base)
        if self.normalize and len(adv) > 1:
            adv = adv / (adv.std() + 1e-8)
        picks = torch.tensor([self._indices({k: str(v) for k, v in t.params.items()}) for t in fresh])
        with torch.no_grad():
            now, _ = net.score(picks)
        old = torch.tensor([float(t.user_attrs.get("controller_logp", now[i])) for i, t in enumerate(fresh)])
        epochs = self.ppo_epochs if self.algo == "ppo" else 1
        for _ in range(epochs):
            logp, ent = net.score(picks)
            if self.algo == "ppo":
                ratio = torch.exp(logp - old)
                loss = -torch.min(ratio * adv, ratio.clamp(1 - self.clip, 1 + self.clip) * adv).mean()
            else:
                loss = -(logp * adv).mean()
            loss = loss - self.entropy * ent.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        state = dict(state, consumed=sorted(consumed | {t.number for t in fresh}), baseline=b)
        self._save(study, net, opt, state)
        return len(fresh)

    def propose(self, study: optuna.Study, n: int) -> list[Candidate]:
        with _one_thread():
            return self._propose(study, n)

    def _propose(self, study: optuna.Study, n: int) -> list[Candidate]:
        self.learn(study)
        net, _, _ = self._load(study)
        gen = torch.Generator().manual_seed(self.rng(study).randrange(2**31))
        taken = set(seen_identities(study.get_trials(deepcopy=False)))
        out: list[Candidate] = []
        for _ in range(20):  # resample duplicates a bounded number of times
            picks, logp = net.sample(4 * n, gen)
            for row, lp in zip(picks.tolist(), logp.tolist(), strict=True):
                tokens = {s.name: s.choices[j] for s, j in zip(self.space.slots, row, strict=True)}
                c = self.space.identity(self.space.render(tokens))
                if c in taken:
                    continue
                taken.add(c)
                out.append(Candidate(tokens, attrs={"controller_logp": lp, "controller_algo": self.algo}))
                if len(out) >= n:
                    return out
        return out

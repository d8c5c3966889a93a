"""Turn whatever the user calls an activation into a factory of fresh modules, one per layer.

Accepted forms (checked in this order):

* a registry name, optionally with hyperparameters: ``"relu"``, ``"isrlu:alpha=3"``, ``"isrlu(alpha=3)"``,
  ``"swish:beta=1.5,trainable=true"`` (values: numbers, ``true``/``false``);
* an expression string or :class:`actlab.expr.Expr` (``"x * sigmoid(x)"``): built with ``Expr.to_module()``;
* ``"glu(<expression>)"``: the expression as the gate of a gated activation, f(g)·a (``Expr.to_gated()``);
* an ``nn.Module`` subclass or any zero-argument callable returning a module (``nn.ReLU``,
  ``lambda: nn.LeakyReLU(0.1)``);
* an ``nn.Module`` instance, deep-copied for every layer so layers never share trainable parameters.

A name is tried in the registry first, so a registered name always means the zoo's activation.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import re
from typing import Any, Callable, Union

from torch import nn

__all__ = ["ActSpec", "resolve_act", "unary_act", "candidate_act", "act_label", "parse_act_string", "is_act_module"]

ActSpec = Union[str, nn.Module, type, Callable[[], nn.Module], Any]

_NAMED = re.compile(r"^\s*([A-Za-z_][\w\-]*)\s*(?::(.*)|\((.*=.*)\))?\s*$", re.S)
_ACT_TAG = "_actlab_act"


def _value(text: str) -> Any:
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        raise ValueError(f"hyperparameter value {t!r} is not a number or true/false") from None


def parse_act_string(text: str) -> tuple[str, dict[str, Any]] | None:
    """Split ``"isrlu:alpha=3"`` / ``"isrlu(alpha=3)"`` into ``("isrlu", {"alpha": 3})``; ``None`` if not that form."""
    m = _NAMED.match(text)
    if not m:
        return None
    name, args = m.group(1), m.group(2) if m.group(2) is not None else m.group(3)
    kwargs: dict[str, Any] = {}
    if args and args.strip():
        for part in args.split(","):
            if "=" not in part:
                raise ValueError(f"activation {text!r}: expected key=value, got {part.strip()!r}")
            k, v = part.split("=", 1)
            kwargs[k.strip()] = _value(v)
    return name, kwargs


def _tagged(factory: Callable[[], nn.Module], label: str) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        m = factory()
        if not isinstance(m, nn.Module):
            raise TypeError(f"activation {label!r} built a {type(m).__name__}, expected an nn.Module")
        setattr(m, _ACT_TAG, True)
        return m

    make.__name__ = f"make_{label}"
    return make


def is_act_module(m: nn.Module) -> bool:
    """Whether ``m`` was built by a factory from :func:`resolve_act` (weight init skips these subtrees)."""
    return bool(getattr(m, _ACT_TAG, False))


_GLU = re.compile(r"^\s*glu\((.*)\)\s*$", re.S)


def _from_string(text: str, fused: bool = True) -> Callable[[], nn.Module]:
    from .. import activations

    glu = _GLU.match(text)
    if glu is not None and "=" not in glu.group(1):  # glu(<expression>): the expression gates f(g)·a
        from .. import expr

        try:
            gate = expr.parse(glu.group(1))
        except (ValueError, SyntaxError, KeyError, TypeError) as err:
            raise KeyError(f"invalid gate expression in {text!r}: {err}") from None
        gate.to_gated(fused=fused)
        return lambda: gate.to_gated(fused=fused)

    parsed = parse_act_string(text)
    if parsed is not None:
        name, kwargs = parsed
        try:
            activations.spec(name)
        except KeyError:
            pass
        else:
            if not fused:
                kwargs = dict(kwargs, fused=False)
            activations.get(name, **kwargs)  # fail now, in the caller, on bad hyperparameters
            return lambda: activations.get(name, **kwargs)
        if kwargs:
            raise KeyError(_unknown(name, activations.names(), None))
    try:
        from .. import expr
        parse = expr.parse
    except (ImportError, AttributeError) as err:
        raise KeyError(_unknown(text, activations.names(), f"expressions unavailable: {err}")) from None
    try:
        e = parse(text)
    except ImportError as err:
        raise KeyError(_unknown(text, activations.names(), f"expressions unavailable: {err}")) from None
    except (ValueError, SyntaxError, KeyError, TypeError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        msg = str(msg).splitlines()[0]  # one line: the parser's caret drawing adds nothing its "at position" lacks
        if parsed is None:  # it looked like an expression, so registry names would be a poor suggestion
            raise KeyError(f"invalid activation expression {text!r}: {msg}") from None
        raise KeyError(_unknown(text, activations.names(), f"not an expression either: {msg}")) from None
    e.to_module(fused=fused)
    return lambda: e.to_module(fused=fused)


def _unknown(text: str, known: list[str], why: str | None) -> str:
    close = difflib.get_close_matches(text.strip().lower(), known, n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    tail = f" ({why})" if why else ""
    return f"unknown activation {text!r}{hint}{tail}"


def resolve_act(act: ActSpec) -> Callable[[], nn.Module]:
    """A zero-argument factory returning a fresh activation module per call (see the module docstring for forms).

    Raises:
        KeyError: unknown name / unparsable expression (lists the closest registry names).
        ValueError, TypeError: bad hyperparameters or an object that is not an activation.
    """
    label = act_label(act)
    if isinstance(act, str):
        return _tagged(_from_string(act), label)
    if type(act).__name__ == "Expr" or hasattr(act, "to_module") and not isinstance(act, nn.Module):
        return _tagged(act.to_module, label)  # type: ignore[union-attr,arg-type]  # an Expr (duck-typed: no upward import)
    if isinstance(act, nn.Module):
        return _tagged(lambda: copy.deepcopy(act), label)
    if inspect.isclass(act) and not issubclass(act, nn.Module):
        raise TypeError(f"activation class {act.__name__} is not an nn.Module subclass")
    if callable(act):
        return _tagged(act, label)
    raise TypeError(f"cannot use a {type(act).__name__} as an activation: give a registry name, an expression, an "
                    f"nn.Module class or a zero-argument factory")


def candidate_act(text: str) -> Callable[[], nn.Module]:
    """The factory the training protocol builds an activation given as text with, the one path shared by the search,
    the tabular benchmarks (``actlab bench table``) and :func:`actlab.evaluate`/``compare``.

    A registry name (``"isrlu:alpha=3"``) and an expression (``"x * sigmoid(x)"``) both train through their
    composite torch form (``fused=False``): it computes the same function as the fused kernel but not the same
    float rounding, so results are only comparable (and a table row only reproduces) when every caller trains one
    way; and it skips the kernel's compilation, seconds per new candidate.
    """
    if not isinstance(text, str):
        raise TypeError(f"candidate_act takes the activation's text, got a {type(text).__name__}")
    make = _tagged(_from_string(text, fused=False), act_label(text))
    make.__name__ = act_label(text)  # results are labelled with the text itself, as with resolve_act(text)
    return make


def act_label(act: ActSpec) -> str:
    """A short printable identity for tables and results: the string itself, the expression, or the class name."""
    if isinstance(act, str):
        return act.strip()
    if hasattr(act, "to_module") and not isinstance(act, nn.Module):
        return str(act)
    if isinstance(act, nn.Module):
        return type(act).__name__
    return getattr(act, "__name__", type(act).__name__)


def unary_act(act: ActSpec, model: str) -> Callable[[], nn.Module]:
    """:func:`resolve_act` for a model whose activation slots need the input's shape back (convolutions, recurrent
    cells): a gated activation (the GLU family halves the last dimension) is a one-line error naming the models
    that take one."""
    make = resolve_act(act)
    if getattr(make(), "gated", False):
        raise ValueError(f"{model} takes a unary activation; {act_label(act)!r} is gated (2H in, H out): use it in "
                         f"the mlp or transformer models (a FeedForward block)")
    return make

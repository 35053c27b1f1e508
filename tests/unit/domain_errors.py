"""Every domain error of ``registry.services.errors``, built as a service would raise it, for
the tests that check each face maps them all."""

from __future__ import annotations

import inspect

from registry.services import errors

# Errors whose constructor takes what they are about rather than a message.
_ARGUMENTS: dict[type[errors.RegistryError], tuple[object, ...]] = {
    errors.RangeInvalid: (1024,),
    errors.RuleUnknown: (3,),
    errors.PolicyUnknown: (4,),
}


def domain_error_types() -> list[type[errors.RegistryError]]:
    return [
        kind
        for _, kind in inspect.getmembers(errors, inspect.isclass)
        if issubclass(kind, errors.RegistryError)
        and kind is not errors.RegistryError
        and kind.__module__ == errors.__name__
    ]


def raised(kind: type[errors.RegistryError]) -> errors.RegistryError:
    return kind(*_ARGUMENTS.get(kind, ()))  # type: ignore[arg-type]

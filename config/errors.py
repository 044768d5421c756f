"""The application's error family: what services raise when the stored state does not allow an action.

Services raise subclasses of :class:`ConflictError` with a message naming the field or the rule;
the API's exception handler (``config.exceptions``) answers every one of them 409 in the error shape,
so a view needs no ``try``/``except`` to get it right, and a race that ends in one (a row deleted
between the read and the write) is a 409, never a 500. Kept free of Django/DRF imports so services
and tasks can import it anywhere.
"""


class ConflictError(Exception):
    """The request conflicts with what is stored (a duplicate, a wrong state, a row deleted meanwhile)."""

"""The application's error family: what services raise when the stored state does not allow an action.

HackSoft's ``ApplicationError``, in three kinds (each message names the field or the rule):

* :class:`ConflictError`: the request conflicts with what is stored (a duplicate id, url or name).
* :class:`StateError` (a ``ConflictError``): the row's state does not allow the action, or the row
  was deleted meanwhile (a race between the read and the write).
* :class:`NotFoundError`: no such row for this owner. It is Django's ``Http404``, so pages, the admin
  and ``except Http404`` treat it as before.

The API's exception handler (``config.exceptions.api_exception_handler``) maps the family ONCE:
conflicts and states to 409 ``{"message": str(exc), "errors": {}}``, not found to 404; views hold no
``try``/``except`` for them, and a race that ends in one is a 409, never a 500. Interfaces that are
not the API (pages, admin actions, forms) catch the kind they can show. Only ``django.http`` is
imported, so services and tasks can import this anywhere.
"""

from django.http import Http404


class ServiceError(Exception):
    """Base of the family; raise one of the kinds below."""


class ConflictError(ServiceError):
    """The request conflicts with what is stored (API: 409)."""


class StateError(ConflictError):
    """The row's state does not allow the action, or it was deleted meanwhile (API: 409)."""


class NotFoundError(ServiceError, Http404):
    """No such row for this owner (API: 404 ``Not found.``, the same body as any unknown id)."""

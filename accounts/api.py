"""Auth endpoints with the shapes of the system we port (``accessToken``, ``refreshToken``).

POST /auth/register, POST /auth/login, GET /auth/me. Tokens are simplejwt access/refresh JWTs.
"""

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import RefreshToken

from config.exceptions import Conflict

User = get_user_model()


def token_pair(user) -> dict[str, str]:
    """Issue a fresh ``{"accessToken", "refreshToken"}`` pair for ``user``."""
    refresh = RefreshToken.for_user(user)
    return {"accessToken": str(refresh.access_token), "refreshToken": str(refresh)}


def user_body(user) -> dict:
    return {"id": user.pk, "username": user.username, "email": user.email}


class RegisterSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True, default="")

    def validate(self, attrs):
        candidate = User(username=attrs["username"], email=attrs.get("email", ""))
        try:
            validate_password(attrs["password"], user=candidate)
        except Exception as exc:  # django.core.exceptions.ValidationError
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs


class RegisterView(APIView):
    """POST /auth/register ``{username, password, email?}`` → 201 ``{message, user, accessToken, refreshToken}``.

    409 if the username exists; 400 naming the field for bad input (Django's password validators apply).
    """

    permission_classes = [AllowAny]
    authentication_classes: list = []

    def post(self, request):
        ser = RegisterSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        try:
            with transaction.atomic():
                if User.objects.filter(username__iexact=data["username"]).exists():
                    raise IntegrityError
                user = User.objects.create_user(data["username"], data.get("email", ""), data["password"])
        except IntegrityError:
            raise Conflict("username: a user with that username already exists") from None
        return Response(
            {"message": "User registered successfully", "user": user_body(user), **token_pair(user)},
            status=status.HTTP_201_CREATED,
        )


class InvalidCredentials(exceptions.APIException):
    """401 for a wrong username or password (the endpoint takes no credentials, so DRF would say 403)."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = "Invalid username or password"
    default_code = "invalid_credentials"


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class LoginView(APIView):
    """POST /auth/login ``{username, password}`` → 200 ``{message, accessToken, refreshToken}``; 401 otherwise."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    def post(self, request):
        ser = LoginSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        user = authenticate(request, **ser.validated_data)
        if user is None:
            raise InvalidCredentials()
        return Response({"message": "Login successful", **token_pair(user)})


class MeView(APIView):
    """GET /auth/me → ``{id, username, email}`` of the caller."""

    def get(self, request):
        return Response(user_body(request.user))

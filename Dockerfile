# The app image: web (uvicorn), worker and beat all run from it (docker-compose.yml picks the command).
#   docker build -t jobserver .                              # the app
#   docker build --build-arg WITH_FLOWER=true -t jobserver-flower .   # plus Flower (compose profile "flower")
FROM python:3.11-slim

ARG WITH_FLOWER=false
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv \
    && groupadd --system app \
    && useradd --system --gid app --home-dir /app --shell /usr/sbin/nologin app

WORKDIR /app
# Dependencies and the project from pyproject.toml; the source stays in /app, the working directory
# every process starts in (templates/ and static/ are found next to config/).
COPY pyproject.toml README.md manage.py Procfile ./
COPY config/ config/
COPY accounts/ accounts/
COPY jobs/ jobs/
COPY scheduling/ scheduling/
COPY webhooks/ webhooks/
COPY templates/ templates/
COPY static/ static/
RUN if [ "$WITH_FLOWER" = "true" ]; then pip install ".[flower]"; else pip install .; fi

# Static files are served by WhiteNoise from var/staticfiles; collectstatic needs settings, not secrets.
RUN SECRET_KEY=collectstatic-only DATABASE_URL=sqlite:////tmp/unused.sqlite3 python manage.py collectstatic --noinput \
    && chown -R app:app /app/var

USER app
EXPOSE 8000
CMD ["uvicorn", "config.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]

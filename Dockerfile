# Skiff console image: web (Daphne), worker and beat (Celery), sampler and the one-shot
# migrate / fleet-init steps of docker-compose.yml all run this image with different commands.
# No secret is baked in: DJANGO_SECRET_KEY, DATABASE_URL, REDIS_URL, ... come from the
# environment at run time (see .env.example).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=console.settings \
    STATIC_ROOT=/app/staticfiles \
    SKIFF_HOME=/var/lib/skiff

WORKDIR /app

# DejaVu Sans: invoice PDFs embed it so names beyond Latin-1 print (billing/services/exports.py).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# Dependencies only, pinned by pyproject.toml, in a layer that stays cached until that file
# changes: install the project from empty stub packages, then drop the stub. The application
# runs from /app (PYTHONPATH), so settings.BASE_DIR is /app and finds templates/ and static/.
COPY pyproject.toml ./
RUN mkdir -p console clusters billing fleet \
    && touch console/__init__.py clusters/__init__.py billing/__init__.py fleet/__init__.py \
    && pip install . \
    && pip uninstall -y skiff \
    && rm -rf console clusters billing fleet build ./*.egg-info

COPY console ./console
COPY clusters ./clusters
COPY billing ./billing
# The whole fleet app (models, gateway, sampler, runtime): INSTALLED_APPS imports it. Its jars,
# data and Maven output are left out by .dockerignore; the Kafka and Connect images carry those.
COPY fleet ./fleet
COPY manage.py ./
COPY templates ./templates
COPY static ./static

# Static files are collected at build time; the placeholder key exists only for this step.
RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput

# One unprivileged uid shared with the Kafka image (fleet/Dockerfile): the fleet-init step
# writes the cell's certificates and credentials (0600) into the shared volume as this uid and
# the brokers read them as the same uid. /fleet, /fleet-ca and /connect (Connect workers' specs,
# shared with the `connect` service) exist here so that fresh named volumes mounted on them
# start out owned by it.
RUN useradd --system --uid 10001 --gid 0 --home-dir /var/lib/skiff --create-home skiff \
    && mkdir -p /fleet /fleet-ca /connect \
    && chown 10001:0 /fleet /fleet-ca /connect \
    && chmod 0750 /fleet /fleet-ca /connect
USER 10001

EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "console.asgi:application"]

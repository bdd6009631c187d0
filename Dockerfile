# Trichter's production image: gunicorn serves the web app; the same image runs the Celery worker and
# beat (see docker-compose.yml). Build: docker build -t trichter .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so that a code change does not reinstall them.
# pyproject names README.md as the readme; a placeholder keeps README edits from busting this layer.
COPY pyproject.toml ./
RUN touch README.md && pip install . && rm -rf build *.egg-info README.md

COPY . .

# collectstatic imports the settings, which demand a SECRET_KEY when DEBUG is off. This throwaway key
# exists only for this one RUN; the real one comes from the environment at run time.
RUN SECRET_KEY=collectstatic-only-not-a-secret DEBUG=0 python manage.py collectstatic --noinput \
    && groupadd --system trichter \
    && useradd --system --gid trichter --home-dir /app --no-create-home trichter \
    && mkdir -p var \
    && chown -R trichter:trichter var

USER trichter
EXPOSE 8000

# WEB_CONCURRENCY (gunicorn's own variable) sets the number of worker processes.
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-", \
     "--timeout", "60"]

# Pinned to an exact release (patch and Debian base): a rebuild gets the same interpreter.
FROM python:3.11.9-slim-bookworm
WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY src ./src
# gcc compiles the OTLP receiver's span reader (a C extension, optional for pip); the image must
# have it, so the import check fails the build otherwise. gcc leaves again in the same layer.
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null \
    && pip install --no-cache-dir '.[postgres]' \
    && python -c "import flowhealth.traces._spans" \
    && apt-get purge -y -qq gcc libc6-dev >/dev/null && apt-get autoremove -y -qq >/dev/null \
    && rm -rf /var/lib/apt/lists/*
EXPOSE 8000
CMD ["flowhealth", "serve", "--host", "0.0.0.0"]

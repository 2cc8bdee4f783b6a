# Pinned to an exact release (patch and Debian base): a rebuild gets the same interpreter.
FROM python:3.11.9-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir '.[postgres]'
EXPOSE 8000
CMD ["flowhealth", "serve", "--host", "0.0.0.0"]

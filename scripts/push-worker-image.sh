#!/usr/bin/env bash
# Builds the worker's production image (the Dockerfile's `worker` target, linux/arm64 for ECS
# Fargate on Graviton) and pushes it to the ECR repository courier-event-gateway-worker,
# creating the repository (scan on push, immutable tags) the first time.
#
#   npm run image:push -- <stage> [region]
#
# The tag is the commit's short sha, so one image is built once and promoted from stage to
# stage unchanged: a tag already in the repository is not rebuilt. Progress goes to stderr; the
# image URI is the only line on stdout, to pass to `serverless deploy --param="workerImage=<uri>"`.
# Needs the AWS CLI v2 with credentials for the account, and Docker with BuildKit; on an x86
# machine Docker builds arm64 through QEMU emulation (Docker Desktop has it; on Linux:
# `docker run --privileged --rm tonistiigi/binfmt --install arm64`).
set -euo pipefail
cd "$(dirname "$0")/.."

readonly REPOSITORY=courier-event-gateway-worker
readonly PLATFORM=linux/arm64

say() { echo "image:push: $*" >&2; }
fail() {
  say "$*"
  exit 1
}

stage="${1:-}"
region="${2:-${AWS_REGION:-${AWS_DEFAULT_REGION:-eu-west-1}}}"
if [[ ! "$stage" =~ ^[A-Za-z0-9-]+$ ]]; then
  echo "usage: npm run image:push -- <stage> [region]   (region defaults to AWS_REGION, else eu-west-1)" >&2
  exit 2
fi

command -v aws >/dev/null 2>&1 || fail "the AWS CLI is not installed (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)"
command -v docker >/dev/null 2>&1 || fail "docker is not installed; the image is built and pushed with Docker (BuildKit)"
docker info >/dev/null 2>&1 || fail "docker is installed but no Docker engine answers; start it and retry"
command -v git >/dev/null 2>&1 || fail "git is not installed; the image is tagged with the commit's short sha"

sha="$(git rev-parse --short=12 HEAD)" || fail "not a git checkout: the image is tagged with the commit's short sha"
tag="$sha"
# An immutable tag must name exactly one content: uncommitted changes get a tag of their own.
if [ -n "$(git status --porcelain)" ]; then
  [ "${IMAGE_ALLOW_DIRTY:-}" = 1 ] || fail "the working tree has uncommitted changes; commit them, or set IMAGE_ALLOW_DIRTY=1 for a one-off '-dirty' tag"
  tag="$sha-dirty-$(date -u +%Y%m%d%H%M%S)"
fi

say "ECR repository $REPOSITORY in $region"
errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT
if ! uri_base="$(aws ecr describe-repositories --region "$region" --repository-names "$REPOSITORY" \
  --query 'repositories[0].repositoryUri' --output text 2>"$errors")"; then
  if ! grep -q RepositoryNotFoundException "$errors"; then
    cat "$errors" >&2
    fail "could not read the ECR repository (credentials, region or permissions?)"
  fi
  say "creating $REPOSITORY (scan on push, immutable tags)"
  uri_base="$(aws ecr create-repository --region "$region" --repository-name "$REPOSITORY" \
    --image-scanning-configuration scanOnPush=true --image-tag-mutability IMMUTABLE \
    --query 'repository.repositoryUri' --output text)"
fi
image="$uri_base:$tag"

if aws ecr describe-images --region "$region" --repository-name "$REPOSITORY" --image-ids "imageTag=$tag" >/dev/null 2>&1; then
  say "$image is already in ECR (tags are immutable); not rebuilding it"
else
  say "logging Docker in to ${uri_base%%/*}"
  aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "${uri_base%%/*}" >&2
  say "building the worker target for $PLATFORM as $image"
  docker build --target worker --platform "$PLATFORM" \
    --label "org.opencontainers.image.revision=$(git rev-parse HEAD)" \
    --label "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --tag "$image" . >&2
  say "pushing $image"
  docker push "$image" >&2
fi

say "deploy it with: npx serverless deploy --stage $stage --region $region --param=\"workerImage=$image\""
echo "$image"

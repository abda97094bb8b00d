# Hookrelay: one image for the API and the worker, each run as a bundle built at image build time.
#
#   docker build -t hookrelay .
#   docker run ... hookrelay                                                 # API (default)
#   docker run ... hookrelay node dist/worker.js                           # worker
#
# Both processes create the database if missing and apply migrations at start; migrations run under
# a Postgres advisory lock. Against an empty server, create the database before starting several
# processes at once (docker-compose.yml does, with POSTGRES_DB).
FROM node:20-bookworm-slim

# pnpm at the version pinned by package.json's packageManager field.
RUN npm install -g pnpm@10.34.8 && npm cache clean --force

WORKDIR /app

# The whole workspace (pnpm-workspace.yaml, the lockfile and every apps/* and packages/* manifest)
# must be present before install; .dockerignore keeps host node_modules, .git and results out.
COPY . .

# Dev dependencies too: the operator CLI runs its TypeScript through tsx. Installed and built as
# root, so the application files stay read-only for the user the processes run as. The bundles
# import third-party packages by their path under node_modules, so they are built in place.
RUN pnpm install --frozen-lockfile --prod=false && pnpm build

# Production mode: ADMIN_TOKEN and HOOKRELAY_ENCRYPTION_KEY must be given (no generated token, no
# development key) and logs are JSON lines.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000

USER node
EXPOSE 3000

# node itself is PID 1 (not a pnpm wrapper), so SIGTERM reaches Hookrelay's graceful shutdown.
CMD ["node", "dist/api.js"]

# One image for the api (serverless offline) and the worker; Lambda's runtime is Node.js 22.
FROM node:22-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
# Dev dependencies too: the api service runs the serverless-offline tooling.
RUN npm ci --no-audit --no-fund
COPY . .
ENV NODE_ENV=development
EXPOSE 3000
CMD ["npm", "run", "offline"]

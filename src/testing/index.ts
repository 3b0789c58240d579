/**
 * The test kit (`import { … } from 'local-chat-server/testing'`): what a project that embeds or
 * talks to the chat server needs to test against it for real — the server in-process on port 0
 * with a temp database, users signed up through the API, a WebSocket client that waits for a
 * run's events, and the scripted Ollama (real /api/chat protocol) with its demo "brain".
 */
export * from './fake-ollama'
export * from './demo-brain'
export * from './server'
export * from './users'
export * from './ws-client'
export * from './chat-stack'

/**
 * The wire contract shared by the server (src/ws, src/runs) and the browser (src/web): frames
 * both ways, run events, close codes and error codes. Nothing here imports anything outside
 * this folder, so the browser bundle can take it whole.
 */
export * from './client-frames'
export * from './close-codes'
export * from './error-codes'
export * from './run-events'
export * from './server-frames'
export * from './audit'
export * from './resources'

// Moved to src/testing (the package's 'local-chat-server/testing' export); kept so imports stay short.
export * from '../../src/testing/chat-stack'

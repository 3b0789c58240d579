/**
 * The error codes (PROTOCOL.md §2) a client may meet: in the HTTP error envelope, in a WebSocket
 * `error` frame, in a run's `agent_completed`/`tool_completed` error, and the browser's own codes
 * for a request the socket could not finish. tests/unit/protocol/codes.test.ts fails when
 * src/ writes a code that is not here.
 */
export const ERROR_CODES = {
  // Requests and frames
  invalidInput: 'invalid_input',
  invalidJson: 'invalid_json',
  invalidFrame: 'invalid_frame',
  missingField: 'missing_field',
  invalidField: 'invalid_field',
  unknownType: 'unknown_type',
  contentTooLong: 'content_too_long',
  payloadTooLarge: 'payload_too_large',
  invalidCursor: 'invalid_cursor',
  invalidRequest: 'invalid_request',
  invalidImport: 'invalid_import',
  notFound: 'not_found',
  forbidden: 'forbidden',
  rateLimited: 'rate_limited',
  internalError: 'internal_error',
  // Accounts, tokens and sessions
  unauthorized: 'unauthorized',
  invalidToken: 'invalid_token',
  tokenExpired: 'token_expired',
  invalidCredentials: 'invalid_credentials',
  emailTaken: 'email_taken',
  weakPassword: 'weak_password',
  signupClosed: 'signup_closed',
  reauthenticationRequired: 'reauthentication_required',
  invalidRefreshToken: 'invalid_refresh_token',
  refreshTokenExpired: 'refresh_token_expired',
  refreshTokenReused: 'refresh_token_reused',
  sessionRevoked: 'session_revoked',
  accountDisabled: 'account_disabled',
  accountDeleted: 'account_deleted',
  lastAdmin: 'last_admin',
  unknownUser: 'unknown_user',
  // API keys
  missingApiKey: 'missing_api_key',
  invalidApiKey: 'invalid_api_key',
  apiKeyExpired: 'api_key_expired',
  apiKeyRevoked: 'api_key_revoked',
  // Single sign-on
  oidcNotConfigured: 'oidc_not_configured',
  oidcUnavailable: 'oidc_unavailable',
  oidcProviderError: 'oidc_provider_error',
  oidcAccessDenied: 'oidc_access_denied',
  oidcInvalidState: 'oidc_invalid_state',
  oidcBrowserMismatch: 'oidc_browser_mismatch',
  oidcInvalidResponse: 'oidc_invalid_response',
  oidcNonceMismatch: 'oidc_nonce_mismatch',
  oidcCodeExchangeFailed: 'oidc_code_exchange_failed',
  oidcEmailMissing: 'oidc_email_missing',
  oidcEmailUnverified: 'oidc_email_unverified',
  oidcAccountExists: 'oidc_account_exists',
  oidcIdentityInUse: 'oidc_identity_in_use',
  // Runs
  unknownAgent: 'unknown_agent',
  tooManyRuns: 'too_many_runs',
  quotaExceeded: 'quota_exceeded',
  serverShuttingDown: 'server_shutting_down',
  serverShutdown: 'server_shutdown',
  serverRestart: 'server_restart',
  nodeLost: 'node_lost',
  cancelled: 'cancelled',
  timeout: 'timeout',
  aborted: 'aborted',
  clusterUnavailable: 'cluster_unavailable',
  // The model
  llmUnavailable: 'llm_unavailable',
  llmError: 'llm_error',
  serverBusy: 'server_busy',
  modelNotFound: 'model_not_found',
  // Tools
  unknownTool: 'unknown_tool',
  invalidArguments: 'invalid_arguments',
  toolError: 'tool_error',
  toolTimeout: 'tool_timeout',
  resultTooLarge: 'result_too_large',
  // Documents and datasets
  unsupportedDocument: 'unsupported_document',
  tooManyDocuments: 'too_many_documents',
  datasetExists: 'dataset_exists',
  datasetTooLarge: 'dataset_too_large',
  // The browser's own, for a request the socket or session could not finish
  connectionLost: 'connection_lost',
  stopped: 'stopped',
  signedOut: 'signed_out',
} as const

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES]

-- Sessions end at once (PROTOCOL.md §5): a disabled flag, and the time before which every access
-- token of the user is void (sign-out everywhere, disable, password change). Revoked refresh
-- families are already stored; together they rebuild the in-memory revocation view on start.
ALTER TABLE `users` ADD `disabled` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
ALTER TABLE `users` ADD `sessions_valid_after` integer;
--> statement-breakpoint
CREATE INDEX `refresh_token_families_revoked` ON `refresh_token_families` (`revoked_at`);

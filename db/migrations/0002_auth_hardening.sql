-- Sessions end at once (PROTOCOL.md §5): a disabled flag, and the time before which every access
-- token of the user is void (sign-out everywhere, disable, password change), and when any of
-- that (or the role) last changed, so every process (and a change made by `bun run admin` from
-- another process) is picked up by polling. Revoked refresh families are already stored.
ALTER TABLE `users` ADD `disabled` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
ALTER TABLE `users` ADD `sessions_valid_after` integer;
--> statement-breakpoint
ALTER TABLE `users` ADD `sessions_changed_at` integer;
--> statement-breakpoint
CREATE INDEX `users_sessions_changed` ON `users` (`sessions_changed_at`);
--> statement-breakpoint
CREATE INDEX `refresh_token_families_revoked` ON `refresh_token_families` (`revoked_at`);

-- Teams (issue 15): roles `user` → `member`, per-user quotas, usage
-- counting (a rolling-window table and a daily rollup) and the content-free audit log.
UPDATE `users` SET `role` = 'member' WHERE `role` = 'user';
--> statement-breakpoint
-- The old column default still says 'user' (SQLite cannot change a default without rebuilding a
-- table that others cascade from); this keeps any insert that relies on it on the new name.
CREATE TRIGGER `users_role_member` AFTER INSERT ON `users` WHEN new.`role` = 'user' BEGIN
  UPDATE `users` SET `role` = 'member' WHERE `id` = new.`id`;
END;
--> statement-breakpoint
-- (`disabled` comes with 0002_auth_hardening.)
ALTER TABLE `users` ADD `last_active_at` integer;
--> statement-breakpoint
ALTER TABLE `users` ADD `quota_runs_per_day` integer;
--> statement-breakpoint
ALTER TABLE `users` ADD `quota_tokens_per_day` integer;
--> statement-breakpoint
CREATE TABLE `usage_events` (
	`run_id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`model` text NOT NULL,
	`day` text NOT NULL,
	`at` integer NOT NULL,
	`prompt_tokens` integer DEFAULT 0 NOT NULL,
	`completion_tokens` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `usage_events_user_at` ON `usage_events` (`user_id`,`at`);
--> statement-breakpoint
CREATE TABLE `usage_daily` (
	`user_id` text NOT NULL,
	`day` text NOT NULL,
	`model` text NOT NULL,
	`runs` integer DEFAULT 0 NOT NULL,
	`prompt_tokens` integer DEFAULT 0 NOT NULL,
	`completion_tokens` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`user_id`, `day`, `model`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `usage_daily_day` ON `usage_daily` (`day`,`user_id`,`model`);
--> statement-breakpoint
CREATE TABLE `audit_events` (
	`id` text PRIMARY KEY NOT NULL,
	`at` integer NOT NULL,
	`actor_id` text,
	`action` text NOT NULL,
	`target_id` text,
	`ip` text,
	`detail` text
);
--> statement-breakpoint
CREATE INDEX `audit_events_actor` ON `audit_events` (`actor_id`,`id`);
--> statement-breakpoint
CREATE INDEX `audit_events_action` ON `audit_events` (`action`,`id`);

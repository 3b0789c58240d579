-- Durable runs: how often a run was resumed after its process died (RUN_RESUME_MAX_ATTEMPTS),
-- and the tool call that saved a note, so a call repeated after a crash saves it once.
ALTER TABLE `runs` ADD `resume_attempts` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
ALTER TABLE `notes` ADD `tool_call_id` text;
--> statement-breakpoint
CREATE UNIQUE INDEX `notes_user_tool_call` ON `notes` (`user_id`,`tool_call_id`);

-- Conversations (issue 16): the message tree, kept outcomes, pinned/archived threads, title
-- search and share snapshots.
ALTER TABLE `messages` ADD `parent_id` text;
--> statement-breakpoint
ALTER TABLE `messages` ADD `status` text;
--> statement-breakpoint
ALTER TABLE `messages` ADD `error_code` text;
--> statement-breakpoint
ALTER TABLE `messages` ADD `error_message` text;
--> statement-breakpoint
ALTER TABLE `threads` ADD `pinned` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
ALTER TABLE `threads` ADD `archived` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
ALTER TABLE `threads` ADD `leaf_id` text;
--> statement-breakpoint
ALTER TABLE `runs` ADD `answer_parent_id` text;
--> statement-breakpoint
-- Only a change of the text re-indexes a message (status and parent updates do not).
DROP TRIGGER IF EXISTS `messages_fts_au`;
--> statement-breakpoint
CREATE TRIGGER `messages_fts_au` AFTER UPDATE OF `content` ON `messages` BEGIN
  INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
  INSERT INTO messages_fts(rowid, content) VALUES (new.rowid, new.content);
END;
--> statement-breakpoint
-- Existing messages become one chain per thread: each follows the one before it.
UPDATE `messages` SET `parent_id` = (
  SELECT p.`id` FROM `messages` p
  WHERE p.`thread_id` = `messages`.`thread_id` AND p.`user_id` = `messages`.`user_id`
    AND (p.`created_at` < `messages`.`created_at` OR (p.`created_at` = `messages`.`created_at` AND p.`id` < `messages`.`id`))
  ORDER BY p.`created_at` DESC, p.`id` DESC LIMIT 1
);
--> statement-breakpoint
-- Existing answers take their run's outcome.
UPDATE `messages` SET
  `status` = coalesce((SELECT CASE r.`status` WHEN 'running' THEN 'failed' ELSE r.`status` END FROM `runs` r WHERE r.`id` = `messages`.`run_id`), 'completed'),
  `error_code` = (SELECT r.`error_code` FROM `runs` r WHERE r.`id` = `messages`.`run_id`),
  `error_message` = (SELECT r.`error_message` FROM `runs` r WHERE r.`id` = `messages`.`run_id`)
WHERE `role` = 'assistant';
--> statement-breakpoint
UPDATE `threads` SET `leaf_id` = (
  SELECT m.`id` FROM `messages` m WHERE m.`thread_id` = `threads`.`id` AND m.`user_id` = `threads`.`user_id`
  ORDER BY m.`created_at` DESC, m.`id` DESC LIMIT 1
);
--> statement-breakpoint
CREATE INDEX `messages_parent` ON `messages` (`user_id`,`thread_id`,`parent_id`,`created_at`);
--> statement-breakpoint
CREATE INDEX `threads_user_list` ON `threads` (`user_id`,`archived`,`pinned`,`updated_at`,`id`);
--> statement-breakpoint
CREATE INDEX `notes_user_page` ON `notes` (`user_id`,`created_at`,`id`);
--> statement-breakpoint
CREATE INDEX `datasets_user_page` ON `datasets` (`user_id`,`created_at`,`id`);
--> statement-breakpoint
CREATE VIRTUAL TABLE `threads_fts` USING fts5(title, content='threads', content_rowid='rowid', tokenize='porter unicode61');
--> statement-breakpoint
INSERT INTO threads_fts(threads_fts) VALUES ('rebuild');
--> statement-breakpoint
CREATE TRIGGER `threads_fts_ai` AFTER INSERT ON `threads` BEGIN
  INSERT INTO threads_fts(rowid, title) VALUES (new.rowid, new.title);
END;
--> statement-breakpoint
CREATE TRIGGER `threads_fts_ad` AFTER DELETE ON `threads` BEGIN
  INSERT INTO threads_fts(threads_fts, rowid, title) VALUES ('delete', old.rowid, old.title);
END;
--> statement-breakpoint
CREATE TRIGGER `threads_fts_au` AFTER UPDATE OF `title` ON `threads` BEGIN
  INSERT INTO threads_fts(threads_fts, rowid, title) VALUES ('delete', old.rowid, old.title);
  INSERT INTO threads_fts(rowid, title) VALUES (new.rowid, new.title);
END;
--> statement-breakpoint
-- A share is a snapshot: its messages are copied, so later messages and other branches of the
-- thread never reach it. Revoking deletes it.
CREATE TABLE `shares` (
  `id` text PRIMARY KEY NOT NULL,
  `user_id` text NOT NULL,
  `thread_id` text NOT NULL,
  `title` text NOT NULL,
  `messages` text NOT NULL,
  `created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
  FOREIGN KEY (`thread_id`,`user_id`) REFERENCES `threads`(`id`,`user_id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `shares_user` ON `shares` (`user_id`,`created_at`,`id`);

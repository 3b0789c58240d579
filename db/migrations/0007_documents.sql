-- Documents the user uploads, their chunks, and each chunk's embedding (a libsql F32_BLOB
-- vector in the same row). Chunks carry user_id and hang under their document by the composite
-- key (document_id, user_id), so a chunk can only ever belong to a document of the same user;
-- deleting a document takes its chunks (and so its vectors and index entries) with it.
CREATE TABLE `documents` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`name` text NOT NULL,
	`mime` text NOT NULL,
	`bytes` integer NOT NULL,
	`status` text NOT NULL,
	`progress` real DEFAULT 0 NOT NULL,
	`chunks` integer DEFAULT 0 NOT NULL,
	`pages` integer DEFAULT 0 NOT NULL,
	`error` text,
	`text` text,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `documents_id_user` ON `documents` (`id`,`user_id`);
--> statement-breakpoint
CREATE INDEX `documents_user_created` ON `documents` (`user_id`,`created_at`,`id`);
--> statement-breakpoint
CREATE TABLE `document_chunks` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`document_id` text NOT NULL,
	`idx` integer NOT NULL,
	`text` text NOT NULL,
	`embedding` F32_BLOB(768),
	FOREIGN KEY (`document_id`,`user_id`) REFERENCES `documents`(`id`,`user_id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `document_chunks_user` ON `document_chunks` (`user_id`,`document_id`,`idx`);
--> statement-breakpoint
CREATE INDEX `document_chunks_document` ON `document_chunks` (`document_id`,`user_id`);
--> statement-breakpoint
-- The keyword index holds the owner too (user_id, as tokens), so a search matches the user's id
-- and the words inside the index itself: other users' rows are never visited.
CREATE VIRTUAL TABLE `document_chunks_fts` USING fts5(text, user_id, content='document_chunks', content_rowid='rowid', tokenize='porter unicode61');
--> statement-breakpoint
CREATE TRIGGER `document_chunks_fts_ai` AFTER INSERT ON `document_chunks` BEGIN
  INSERT INTO document_chunks_fts(rowid, text, user_id) VALUES (new.rowid, new.text, new.user_id);
END;
--> statement-breakpoint
CREATE TRIGGER `document_chunks_fts_ad` AFTER DELETE ON `document_chunks` BEGIN
  INSERT INTO document_chunks_fts(document_chunks_fts, rowid, text, user_id) VALUES ('delete', old.rowid, old.text, old.user_id);
END;
--> statement-breakpoint
CREATE TRIGGER `document_chunks_fts_au` AFTER UPDATE OF `text`, `user_id` ON `document_chunks` BEGIN
  INSERT INTO document_chunks_fts(document_chunks_fts, rowid, text, user_id) VALUES ('delete', old.rowid, old.text, old.user_id);
  INSERT INTO document_chunks_fts(rowid, text, user_id) VALUES (new.rowid, new.text, new.user_id);
END;
--> statement-breakpoint
ALTER TABLE `messages` ADD `citations` text;

-- Per user, how many chunk vectors were ever added and removed, kept by triggers. The server
-- holds each searching user's vectors in memory; these two counters tell it, with one primary-key
-- read, whether its copy is current (also when another process of a cluster wrote): only
-- additions since → read the new rows; any removal → read again.
CREATE TABLE `document_vector_versions` (
	`user_id` text PRIMARY KEY NOT NULL,
	`added` integer DEFAULT 0 NOT NULL,
	`removed` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
INSERT INTO `document_vector_versions` (`user_id`, `added`)
  SELECT `user_id`, count(*) FROM `document_chunks` WHERE `embedding` IS NOT NULL GROUP BY `user_id`;
--> statement-breakpoint
CREATE TRIGGER `document_chunks_vectors_ai` AFTER INSERT ON `document_chunks` WHEN new.embedding IS NOT NULL BEGIN
  INSERT INTO document_vector_versions (user_id, added) VALUES (new.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET added = added + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `document_chunks_vectors_ad` AFTER DELETE ON `document_chunks` WHEN old.embedding IS NOT NULL BEGIN
  INSERT INTO document_vector_versions (user_id, removed) VALUES (old.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET removed = removed + 1;
END;
--> statement-breakpoint
-- A changed vector counts as a removal (the copy is read again) and an addition.
CREATE TRIGGER `document_chunks_vectors_au` AFTER UPDATE OF `embedding`, `user_id` ON `document_chunks` BEGIN
  INSERT INTO document_vector_versions (user_id, removed) VALUES (old.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET removed = removed + 1;
  INSERT INTO document_vector_versions (user_id, added) VALUES (new.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET added = added + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `users_document_vector_versions_ad` AFTER DELETE ON `users` BEGIN
  DELETE FROM document_vector_versions WHERE user_id = old.id;
END;

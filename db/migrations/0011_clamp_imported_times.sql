-- Imports before this version took any number as a time, and a time outside the years 0000–9999
-- cannot be written out as a date: every list, export or search that met such a row failed.
-- Imports refuse those times now; rows already stored are moved to the nearest time that is.
UPDATE `threads` SET `created_at` = MIN(MAX(`created_at`, -62167219200000), 253402300799999)
  WHERE `created_at` NOT BETWEEN -62167219200000 AND 253402300799999;
--> statement-breakpoint
UPDATE `threads` SET `updated_at` = MIN(MAX(`updated_at`, -62167219200000), 253402300799999)
  WHERE `updated_at` NOT BETWEEN -62167219200000 AND 253402300799999;
--> statement-breakpoint
UPDATE `messages` SET `created_at` = MIN(MAX(`created_at`, -62167219200000), 253402300799999)
  WHERE `created_at` NOT BETWEEN -62167219200000 AND 253402300799999;

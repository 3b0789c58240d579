-- Share audit events named the share's own id, which is the link itself: whoever read the audit
-- log could open the snapshot. They name the shared thread now. An event whose share is gone
-- (revoked, or its thread deleted) keeps no target: the link is dead, but it is still a link.
UPDATE `audit_events`
  SET `target_id` = (SELECT `shares`.`thread_id` FROM `shares` WHERE `shares`.`id` = `audit_events`.`target_id`)
  WHERE `action` IN ('share_created', 'share_revoked');

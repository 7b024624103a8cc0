"""Transactional mail: the one mail a platform event causes, queued and retried until delivered."""

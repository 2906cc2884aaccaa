package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// cacheShards spreads lock contention; a power of two so the shard is a
// mask of the key's first byte.
const cacheShards = 16

// tokenCache maps SHA-256(token) to the claims of a verified access token.
// Hashes, not tokens, are the keys so a heap dump holds no usable
// credentials. Entries expire at the token's exp: get never returns them
// afterwards and removes them when seen. When a shard is full, put first
// drops expired entries and then, if still full, an arbitrary one (Go's
// randomised map iteration) — simple, and good enough because a miss only
// costs one signature check.
type tokenCache struct {
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[[sha256.Size]byte]Claims
	_  [40]byte // keep shards on separate cache lines
}

func newTokenCache(size int) *tokenCache {
	per := (size + cacheShards - 1) / cacheShards
	c := &tokenCache{perShard: per}
	for i := range c.shards {
		c.shards[i].m = make(map[[sha256.Size]byte]Claims)
	}
	return c
}

func (c *tokenCache) shard(k [sha256.Size]byte) *cacheShard {
	return &c.shards[k[0]&(cacheShards-1)]
}

func (c *tokenCache) get(k [sha256.Size]byte, now time.Time) (Claims, bool) {
	s := c.shard(k)
	s.mu.RLock()
	v, ok := s.m[k]
	s.mu.RUnlock()
	if !ok {
		return Claims{}, false
	}
	if !now.Before(v.ExpiresAt) {
		s.mu.Lock()
		if cur, ok := s.m[k]; ok && !now.Before(cur.ExpiresAt) {
			delete(s.m, k)
		}
		s.mu.Unlock()
		return Claims{}, false
	}
	return v, true
}

func (c *tokenCache) put(k [sha256.Size]byte, v Claims, now time.Time) {
	if !now.Before(v.ExpiresAt) {
		return
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; !ok && len(s.m) >= c.perShard {
		for key, e := range s.m {
			if !now.Before(e.ExpiresAt) {
				delete(s.m, key)
			}
		}
		for key := range s.m {
			if len(s.m) < c.perShard {
				break
			}
			delete(s.m, key)
		}
	}
	s.m[k] = v
}

func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

"""Customer-managed encryption keys: envelope encryption of each opted-in tenant's free text
with a data key of its own, wrapped by a key provider (the platform's master key, the
customer's OpenBao/Vault transit key, or their AWS KMS key). `fields` says what is encrypted
and holds the ORM hooks (imported by the models it covers), `access` how a unit of work uses
the key, `service` the admin API, `rotation` the data-key rotation."""

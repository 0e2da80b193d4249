"""Single sign-on per tenant with OpenID Connect (authorization code + PKCE, Authlib)."""

"""The openai backend: any OpenAI-compatible chat server, its replies read without trust, and the checks around each request."""

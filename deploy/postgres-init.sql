-- Databases beside the journey store (compose.yaml): Rasa's tracker store, and the demo
-- back office (in production the company's own systems, CX_BACKOFFICE_API_URL).
CREATE DATABASE tracker OWNER cx;
CREATE DATABASE backoffice OWNER cx;

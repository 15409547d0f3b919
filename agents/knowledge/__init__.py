"""The knowledge base (RAG over runbooks and learned cases): embeddings, engines, versions, ingestion.

Entry points: `factory.open_knowledge_base(settings.knowledge)` -> `base.KnowledgeBase`.
"""

"""A knowledge base's own synonyms: the words its readers use for what its documents call otherwise
("挂号费" for "诊查费", "ATM card" for "debit card"), kept in the KB and applied to every question:
BM25 searches the documents' words too, and quotes are matched through them."""

"""Statistics: the dataset a session slices (rows or aggregates), each customer's answers,
what the database computes, filters, a manager's scope, the pure metric functions,
inference, complaints, the comments' figures and queries. Imports the contract."""

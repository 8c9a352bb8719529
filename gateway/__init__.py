"""A GraphQL gateway over the Zylon and Make analytics APIs."""
